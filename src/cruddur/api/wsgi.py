"""The module gunicorn serves (`cruddur.api.wsgi:app`): settings from the environment, JSON logs.
Imported in each worker, after the fork, so every worker has its own connections."""

from cruddur.api.app import create_app
from cruddur.api.logs import configure_logging

configure_logging()
app = create_app()
