-- How many users a database holds: `cruddur db setup` asks before it drops one that holds any.
SELECT count(*) FROM users;
