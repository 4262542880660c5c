"""bootstrap.py checks what the venv holds, not only its own note of what it installed: a damaged
package is reinstalled, and a lock whose hashes changed is verified again (a mismatch is named as
such, never as a network problem). One venv per installer: uv, then pip."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import bootstrap, venv_python

pytestmark = pytest.mark.slow

NETWORK = "check the network or the proxy"


def site_packages(project: Path) -> Path:
    found = subprocess.run(
        [venv_python(project), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    )
    return Path(found.stdout.strip())


def imports_django(project: Path) -> bool:
    return subprocess.run([venv_python(project), "-c", "import django.core.handlers"]).returncode == 0


def break_django_hashes(lock: Path) -> None:
    """The same Django version, every one of its hashes changed (as a tampered lock would be)."""
    text = lock.read_text(encoding="utf-8")
    entry = re.search(r"^django==\S+ \\\n(    --hash=sha256:[0-9a-f]{64}(?: \\)?\n)+", text, re.MULTILINE)
    assert entry, "django is pinned with hashes"
    broken = re.sub(r"sha256:[0-9a-f]{64}", lambda m: "sha256:" + "0" * 64, entry.group(0))
    lock.write_text(text.replace(entry.group(0), broken), encoding="utf-8")


@pytest.mark.parametrize("installer", ["uv", "pip"])
def test_a_damaged_venv_is_repaired_and_a_changed_hash_is_verified(render_project, tmp_path, installer):
    project = render_project(tmp_path / installer)
    args = ["--server"] + (["--no-uv"] if installer == "pip" else [])
    first = bootstrap(project, *args)
    assert first.returncode == 0, first.stdout + first.stderr

    shutil.rmtree(site_packages(project) / "django")  # metadata stays: the installers see Django
    assert not imports_django(project)
    repaired = bootstrap(project, *args)
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert "does not match requirements.txt" in repaired.stdout and "django" in repaired.stdout
    assert "dependencies already match" not in repaired.stdout
    assert imports_django(project), "bootstrap reinstalled the damaged package"
    again = bootstrap(project, *args)
    assert "dependencies already match requirements.txt" in again.stdout, again.stdout + again.stderr

    break_django_hashes(project / "requirements.txt")
    refused = bootstrap(project, *args)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "do not match the hashes in requirements.txt" in refused.stderr, refused.stderr
    assert NETWORK not in refused.stderr
    assert imports_django(project), "the installed Django was not removed for a refused one"
    still = bootstrap(project, *args)
    assert still.returncode == 1, "a refused lock is never recorded as installed"


def test_a_venv_python_that_no_longer_runs_and_an_env_example_saved_by_windows(render_project, tmp_path):
    """A venv's python.exe stays, and fails, when the Python that made it is uninstalled: the venv is
    made again. Then (same venv, to build one fewer) .env.example as Windows tools save it."""
    project = render_project(tmp_path / "p")
    assert bootstrap(project, "--server").returncode == 0
    python = venv_python(project)
    python.unlink()
    python.write_text("#!/bin/sh\nexit 101\n")
    python.chmod(0o755)
    result = bootstrap(project, "--server")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "does not run" in result.stdout and "recreating it" in result.stdout, result.stdout
    assert imports_django(project)

    # .env.example as Windows PowerShell 5.1 saves it (UTF-16 with a BOM): .env is still written.
    example = (project / ".env.example").read_text(encoding="utf-8")
    (project / ".env").unlink()
    (project / ".env.example").write_text("# Café\n" + example, encoding="utf-16")
    result = bootstrap(project, "--server")
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"^DJANGO_SECRET_KEY=\S{60,}$", (project / ".env").read_text(encoding="utf-8"), re.M)
    (project / ".env").unlink()
    (project / ".env.example").write_bytes(("# Café\n" + example).encode("cp1252"))
    result = bootstrap(project, "--server")
    assert result.returncode == 1 and "line 1 is not UTF-8" in result.stderr, result.stdout + result.stderr
    assert "Set-Content -Encoding utf8" in result.stderr and not (project / ".env").exists()
