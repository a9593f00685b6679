-- The sign-up path. A NULL uuid lets the table generate one.
INSERT INTO users (uuid, handle, display_name, email, cognito_user_id)
VALUES (COALESCE(%(uuid)s::uuid, gen_random_uuid()), %(handle)s, %(display_name)s, %(email)s,
        %(cognito_user_id)s)
RETURNING uuid, handle, display_name, email, cognito_user_id, created_at;
