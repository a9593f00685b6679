-- The seed's users/short: who is @handle (case-insensitive; the unique index on lower(handle) serves it).
SELECT uuid, handle, display_name, email, cognito_user_id, created_at
FROM users
WHERE lower(handle) = lower(%(handle)s);
