"""Fixtures for this project's tests, shared with the template's (iishost.testing): production_env
(the server's environment), run_python (a fresh process in the project folder), and an autouse one
that lets pages render before collectstatic has made its manifest."""

from iishost.testing import production_env, run_python, unhashed_static_files  # noqa: F401
