-- The seed's users table, plus what a real service needs: case-insensitive unique handles, a unique
-- Cognito id (NULL until the user is linked to Cognito), timestamps with time zone.
CREATE TABLE users (
  uuid uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  display_name text NOT NULL,
  handle text NOT NULL,
  email text NOT NULL,
  cognito_user_id text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT users_handle_not_blank CHECK (length(btrim(handle)) > 0),
  CONSTRAINT users_display_name_not_blank CHECK (length(btrim(display_name)) > 0)
);

CREATE UNIQUE INDEX users_handle_lower_key ON users (lower(handle));
CREATE UNIQUE INDEX users_cognito_user_id_key ON users (cognito_user_id);
CREATE INDEX users_email_lower_idx ON users (lower(email));
