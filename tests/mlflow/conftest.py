"""The API fixtures of tests/server, for the MLflow endpoint's tests."""

from tests.server.conftest import api, api_factory, live

__all__ = ["api", "api_factory", "live"]
