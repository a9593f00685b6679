"""What a service on the internet needs beside its use cases: idempotency keys for sends
(`idempotency.py`) and rate limits shared by every worker and host (`rate_limits.py`). Storage
only: the HTTP side (headers, status codes) lives in `cruddur.api.idempotency` and
`cruddur.api.limits`."""
