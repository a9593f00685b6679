UPDATE users
SET display_name = %(display_name)s, updated_at = now()
WHERE uuid = %(uuid)s
RETURNING uuid, handle, display_name, email, cognito_user_id, created_at;
