UPDATE users
SET cognito_user_id = %(cognito_user_id)s, updated_at = now()
WHERE uuid = %(uuid)s
RETURNING uuid;
