-- The seed's bin/db/sessions: open client connections to the server, oldest first.
SELECT pid, usename AS "user", datname AS database, application_name, client_addr::text,
       state, query, backend_start
FROM pg_stat_activity
WHERE backend_type = 'client backend'
ORDER BY backend_start, pid;
