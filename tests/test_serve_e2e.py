"""`invoke serve` on a generated project: the site through the IIS emulator, as IIS will run it."""

from __future__ import annotations

import contextlib
import http.client
import http.cookies
import os
import re
import signal
import socket
import subprocess
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from conftest import VENV_BIN, venv_python

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.name == "nt", reason="stops `invoke serve` with POSIX process-group signals"),
]
STARTUP_TIME_LIMIT = 20  # the generated web.config's startupTimeLimit


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def request(port, path, method="GET", headers=None, body=None, connection=None):
    """(status, headers, body) over `connection` (kept) or a new one."""
    conn = connection or http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.headers, response.read().decode("utf-8", "replace")
    finally:
        if connection is None:
            conn.close()


def sign_in(port: int, username: str, password: str) -> str:
    """The session id of `username`, signed in through Django's admin login form at `port`
    (its CSRF cookie and token)."""
    status, headers, page = request(port, "/admin/login/")
    assert status == 200, page
    csrf = http.cookies.SimpleCookie(headers["Set-Cookie"])["csrftoken"].value
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    form = {"csrfmiddlewaretoken": token, "username": username, "password": password}
    status, headers, _ = request(
        port, "/admin/login/?next=/admin/", "POST", body=urllib.parse.urlencode(form),
        headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": f"csrftoken={csrf}"},
    )  # fmt: skip
    assert status == 302, f"the sign-in of {username} was refused"
    cookies = http.cookies.SimpleCookie()
    for header in headers.get_all("Set-Cookie"):
        cookies.load(header)
    return cookies["sessionid"].value


def backend_pids(project: Path) -> set[int]:
    """Backend processes alive now, from their own log names (iishost.launch: uvicorn_<time>_<pid>.log)."""
    names = (p.stem for p in (project / "logs").glob("uvicorn_*_*.log"))
    pids = {int(name.rsplit("_", 1)[1]) for name in names}
    return {pid for pid in pids if alive(pid)}


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status")
    return not status.exists() or "zombie" not in status.read_text()


@contextlib.contextmanager
def serving(project: Path, tmp_path: Path, **env: str):
    """`invoke serve --port N` running until the block ends, then Ctrl-C (SIGINT) as a user would."""
    port = free_port()
    base = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    output = tmp_path / f"serve-{port}.txt"
    with open(output, "wb") as out:
        process = subprocess.Popen(
            [project / ".venv" / VENV_BIN / "invoke", "serve", "--port", str(port)],
            cwd=project, env={**base, **env}, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 180
        while True:
            assert process.poll() is None, output.read_text()
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            assert time.monotonic() < deadline, output.read_text()
            time.sleep(0.1)
        yield port
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            raise


@pytest.fixture(scope="module")
def site(default_project, tmp_path_factory):
    with serving(default_project, tmp_path_factory.mktemp("serve")) as port:
        yield port


def test_home_page(site):
    status, _, body = request(site, "/")
    assert status == 200 and "<h1>My Site</h1>" in body


def test_admin_login_with_its_csrf_token(site, default_project):
    subprocess.run(
        [
            venv_python(default_project),
            "manage.py",
            "createsuperuser",
            "--noinput",
            "--username",
            "boss",
            "--email",
            "boss@example.com",
        ],
        cwd=default_project,
        env={**os.environ, "DJANGO_SUPERUSER_PASSWORD": "a long pass phrase 42"},
        capture_output=True,
    )  # fmt: skip  (already there when the module runs twice on one project: fine)
    status, headers, page = request(site, "/admin/login/")
    assert status == 200
    cookie = http.cookies.SimpleCookie(headers["Set-Cookie"])["csrftoken"].value
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)

    def post(csrf):
        form = {"csrfmiddlewaretoken": csrf, "username": "boss", "password": "a long pass phrase 42"}
        return request(
            site, "/admin/login/?next=/admin/", "POST", body=urllib.parse.urlencode(form),
            headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": f"csrftoken={cookie}"},
        )  # fmt: skip

    assert post("wrong" + token[5:])[0] == 403
    status, headers, _ = post(token)
    assert status == 302 and headers["Location"] == "/admin/"
    assert any(c.startswith("sessionid=") for c in headers.get_all("Set-Cookie"))


def test_static_file_comes_from_the_iis_static_handler(site):
    status, headers, body = request(site, "/static/admin/css/base.css")
    # DEBUG is off: Django itself would answer 404 here, so this is IIS's static file handler.
    assert status == 200 and "body" in body
    assert headers["Content-Type"].startswith("text/css")
    assert "max-age=31536000" in headers["Cache-Control"]


@pytest.mark.parametrize("path", ["/.env", "/web.config", "/.venv/pyvenv.cfg", "/.copier-answers.yml",
                                  "/static/web.config", "/manage.py"])  # fmt: skip
def test_private_files_answer_404(site, path):
    assert request(site, path)[0] == 404


def test_a_thousand_requests_at_concurrency_8(site):
    def worker(n):
        connection = http.client.HTTPConnection("127.0.0.1", site, timeout=60)
        statuses = [request(site, "/health/" if i % 2 else "/", connection=connection)[0] for i in range(n)]
        connection.close()
        return statuses

    with ThreadPoolExecutor(8) as pool:
        statuses = [s for batch in pool.map(worker, [125] * 8) for s in batch]
    assert len(statuses) == 1000 and set(statuses) == {200}


def test_a_killed_backend_is_restarted_within_startup_time_limit(site, default_project):
    assert [request(site, "/")[0] for _ in range(2)] == [200, 200]  # round-robin: both processes up
    victims = backend_pids(default_project)
    assert len(victims) == 2, "web.config's processesPerApplication"
    for victim in victims:
        os.kill(victim, signal.SIGKILL)
    killed = time.monotonic()
    while request(site, "/")[0] != 200:
        assert time.monotonic() - killed < STARTUP_TIME_LIMIT, "the site did not come back"
        time.sleep(0.1)
    replacements = backend_pids(default_project)
    assert replacements and not replacements & victims


def test_stdout_log_written_under_logs(site, default_project):
    request(site, "/")
    logs = list((default_project / "logs").glob("uvicorn_*_*.log"))
    assert logs and any("Uvicorn running on http://127.0.0.1:" in p.read_text() for p in logs)
    hph = list((default_project / "logs").glob("httpplatform-stdout_*_*.log"))
    assert hph and any("writes its output to" in p.read_text() for p in hph), "HPH's log points to it"


def test_forged_forwarded_proto_is_not_https_and_serve_stops_its_backend(default_project, tmp_path):
    before = backend_pids(default_project)
    with serving(default_project, tmp_path, DJANGO_HTTPS="1") as port:
        status, headers, _ = request(port, "/", headers={"X-Forwarded-Proto": "https"})
        assert status == 301 and headers["Location"].startswith("https://"), "still redirected to HTTPS"
        backends = backend_pids(default_project) - before
        backend = min(backends)
        # Control: the app does believe HPH's own entry (from 127.0.0.1), so the check above can fail.
        log = next((default_project / "logs").glob(f"uvicorn_*_{backend}.log")).read_text()
        backend_port = int(re.search(r"Uvicorn running on http://127\.0\.0\.1:(\d+)", log).group(1))
        as_hph = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "127.0.0.1:1"}
        assert request(backend_port, "/", headers=as_hph)[0] == 200
    assert backends and not any(map(alive, backends)), "Ctrl-C on invoke serve stops the backends too"
