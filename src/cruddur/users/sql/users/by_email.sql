-- Emails are not unique: several accounts may share one; the caller decides what that means.
SELECT uuid, handle, display_name, email, cognito_user_id, created_at
FROM users
WHERE lower(email) = lower(%(email)s)
ORDER BY created_at, uuid;
