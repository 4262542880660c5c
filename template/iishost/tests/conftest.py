"""The template's tests use the project's shared fixtures (iishost.testing)."""

from iishost.testing import production_env, requests_over_plain_http, run_python  # noqa: F401
