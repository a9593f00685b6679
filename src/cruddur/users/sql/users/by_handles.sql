-- Several users at once; %(handles)s holds lower-cased handles.
SELECT uuid, handle, display_name, email, cognito_user_id, created_at
FROM users
WHERE lower(handle) = ANY(%(handles)s::text[]);
