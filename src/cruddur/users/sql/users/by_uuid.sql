SELECT uuid, handle, display_name, email, cognito_user_id, created_at
FROM users
WHERE uuid = %(uuid)s;
