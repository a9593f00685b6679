"""Live delivery: events (a sent message, a moved conversation row) carried between processes on
Redis Streams, read by the server-sent events endpoint (`cruddur.api.events`)."""
