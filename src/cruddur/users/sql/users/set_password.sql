INSERT INTO user_credentials (user_uuid, password_hash)
VALUES (%(uuid)s, %(password_hash)s)
ON CONFLICT (user_uuid) DO UPDATE
SET password_hash = EXCLUDED.password_hash, updated_at = now();
