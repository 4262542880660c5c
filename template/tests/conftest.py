"""Fixtures for this project's tests, shared with the template's (iishost.testing): production_env
(the server's environment), run_python (a fresh process in the project folder), and autouse ones
that let pages render before collectstatic has made its manifest and serve plain-HTTP test requests
of an HTTPS site without its redirect."""

from iishost.testing import (  # noqa: F401
    production_env,
    requests_over_plain_http,
    run_python,
    unhashed_static_files,
)
