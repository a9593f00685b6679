-- Users whose handle or display name starts with a prefix, case-insensitively: the pattern is the
-- lower-cased prefix with LIKE's wildcards escaped, then the wildcard. Handle matches come first.
SELECT uuid, handle, display_name, email, cognito_user_id, created_at
FROM users
WHERE lower(handle) LIKE %(pattern)s ESCAPE '\'
   OR lower(display_name) LIKE %(pattern)s ESCAPE '\'
ORDER BY (lower(handle) LIKE %(pattern)s ESCAPE '\') DESC, lower(handle)
LIMIT %(limit)s;
