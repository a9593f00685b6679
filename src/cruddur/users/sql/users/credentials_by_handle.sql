-- A user and their password hash (NULL when they have none) in one round trip.
SELECT u.uuid, u.handle, u.display_name, u.email, u.cognito_user_id, u.created_at,
       c.password_hash
FROM users u
LEFT JOIN user_credentials c ON c.user_uuid = u.uuid
WHERE lower(u.handle) = lower(%(handle)s);
