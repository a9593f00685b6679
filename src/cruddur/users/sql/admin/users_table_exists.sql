-- Whether the users table exists yet (a database created but not yet migrated has none).
SELECT to_regclass('users') IS NOT NULL;
