"""Shared fixtures for this project's tests."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _unhashed_static_files(settings):
    """Tests render templates without running collectstatic first (no manifest to look in)."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture
def production_env():
    """The environment README.md describes for the server: DEBUG off, a real secret key."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env.update(DJANGO_DEBUG="0", DJANGO_SECRET_KEY=secrets.token_urlsafe(50), PYTHONUTF8="1")
    return env


@pytest.fixture
def run_python():
    """Run this venv's Python in the project folder in a fresh process (settings load anew)."""

    def run(*args, env):
        return subprocess.run(
            [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
        )

    return run
