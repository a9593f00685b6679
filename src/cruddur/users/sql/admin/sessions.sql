-- The seed's bin/db/sessions: open client connections to the server (but this one), oldest first.
SELECT pid, usename AS "user", datname AS database, application_name, client_addr::text,
       state, query, backend_start
FROM pg_stat_activity
WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()
ORDER BY backend_start, pid;
