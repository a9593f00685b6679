"""The HTTP API: app factory, blueprints, the one error handler, the OpenAPI document."""

from cruddur.api.app import create_app

__all__ = ["create_app"]
