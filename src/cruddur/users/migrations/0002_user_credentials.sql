-- Local sign-in (the local identity provider): one argon2 hash per user. Production signs in with
-- Cognito and has no rows here. Kept apart from users so a SELECT on users never carries a hash.
CREATE TABLE user_credentials (
  user_uuid uuid PRIMARY KEY REFERENCES users (uuid) ON DELETE CASCADE,
  password_hash text NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);
