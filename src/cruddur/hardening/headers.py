"""The security headers of the API's answers, in one place: the app sets them on every answer
(`cruddur.web.security.baseline_headers`, which adds the screens' own policy) and the gunicorn
worker on the few answers gunicorn writes itself, before the app sees a request."""

from __future__ import annotations

# JSON and event streams: nothing to render, run or frame.
API_CSP = "default-src 'none'; frame-ancestors 'none'"

API_HEADERS = {
    "Content-Security-Policy": API_CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # an answer for a bearer token must never sit in a shared or browser cache
    "Cache-Control": "no-store",
}
