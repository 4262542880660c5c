"""The IIS + HttpPlatformHandler emulator (iishost/emulator) against tiny backends.

Each test writes a web.config whose processPath is this Python and whose arguments start
iishost/tests/emulator_backend.py, then talks HTTP to the emulator running in a thread.
"""

import asyncio
import http.client
import json
import os
import re
import subprocess
import sys
import time
import urllib.parse
from datetime import datetime
from pathlib import Path
from xml.sax.saxutils import quoteattr

import aiohttp
import pytest

from iishost import PROJECT_ROOT
from iishost.emulator import webconfig
from iishost.emulator.backend import log_file_name, resolve, split_arguments
from iishost.emulator.threaded import run_in_thread

BACKEND = Path(__file__).with_name("emulator_backend.py")
ROOT = PROJECT_ROOT


def write_site(site, backend_args="", children="", extra="", **attributes):
    """A web.config running the tiny backend; attributes override the <httpPlatform> ones."""
    attrs = {
        "processPath": sys.executable,
        "arguments": f'"{BACKEND}" --port %HTTP_PLATFORM_PORT% {backend_args}',
        "startupTimeLimit": "10",
        "startupRetryCount": "1",
        "rapidFailsPerMinute": "10",
        **attributes,
    }
    attr_text = " ".join(f"{name}={quoteattr(value)}" for name, value in attrs.items())
    site.mkdir(parents=True, exist_ok=True)
    (site / "web.config").write_text(
        f"""<?xml version="1.0" encoding="utf-8"?>
<configuration><system.webServer>
  <handlers>
    <add name="PythonHandler" path="*" verb="*" modules="httpPlatformHandler" resourceType="Unspecified"/>
  </handlers>
  <httpPlatform {attr_text}>{children}</httpPlatform>
  {extra}
</system.webServer></configuration>""",
        encoding="utf-8",
    )
    return site


def get(url, headers=None, method="GET", data=None, timeout=30):
    """(status, headers, body text); redirects are not followed, 4xx/5xx do not raise."""
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        connection.request(method, target, body=data, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.headers, response.read().decode()
    finally:
        connection.close()


def wait_until(condition, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def pid_alive(pid):
    if os.name == "nt":
        out = subprocess.run(["tasklist", "/FI", f"PID eq {pid}"], capture_output=True, text=True).stdout
        return str(pid) in out
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return not Path(f"/proc/{pid}/status").exists() or "zombie" not in Path(f"/proc/{pid}/status").read_text()


# --- pure parts ----------------------------------------------------------------------------------
@pytest.mark.skipif(os.name == "nt", reason="the Scripts -> bin mapping applies on POSIX only")
def test_venv_python_of_the_windows_layout_maps_to_bin(tmp_path):
    assert resolve(r".\.venv\Scripts\python.exe", tmp_path) == tmp_path / ".venv" / "bin" / "python"
    assert resolve(r".\logs\httpplatform-stdout", tmp_path) == tmp_path / "logs" / "httpplatform-stdout"


def test_arguments_split_like_a_windows_command_line():
    line = r'-m uvicorn "C:\My Site\app" --x C:\path\ "a \"quoted\" b" tail\\ "say ""hi"""'
    assert split_arguments(line) == [
        "-m",
        "uvicorn",
        r"C:\My Site\app",
        "--x",
        "C:\\path\\",
        'a "quoted" b',
        "tail\\\\",
        'say "hi"',
    ]


def test_log_file_names_are_not_zero_padded(tmp_path):
    name = log_file_name(tmp_path / "stdout", 42, datetime(2025, 3, 4, 5, 6, 7))
    assert name == tmp_path / "stdout_42_202534567.log"


# --- the configuration ---------------------------------------------------------------------------
def test_invalid_http_platform_answers_500_19_with_the_reason(tmp_path):
    site = write_site(tmp_path / "site", requestTimeout="00:00:30")
    with run_in_thread(site) as running:
        status, headers, body = get(running.url + "/")
        assert running.emulator.pool is None, "no process is started for an invalid configuration"
    assert status == 500 and headers["X-IIS-Substatus"] == "500.19"
    assert "whole minutes" in body


def test_request_filtering_hides_segments_and_extensions(tmp_path):
    extra = """<security><requestFiltering>
      <hiddenSegments><add segment=".env"/></hiddenSegments>
      <fileExtensions allowUnlisted="true"><add fileExtension=".py" allowed="false"/></fileExtensions>
    </requestFiltering></security>"""
    site = write_site(tmp_path / "site", extra=extra)
    (site / "sub").mkdir()
    (site / "sub" / "web.config").write_text("<configuration/>")
    with run_in_thread(site) as running:
        results = {path: get(running.url + path)[1].get("X-IIS-Substatus") for path in (
            "/.env", "/a/.ENV/b", "/web.config", "/sub/web.config", "/x.py", "/x.Py?y=1", "/pid",
        )}  # fmt: skip
    assert results == {
        "/.env": "404.8", "/a/.ENV/b": "404.8", "/web.config": "404.8", "/sub/web.config": "404.8",
        "/x.py": "404.7", "/x.Py?y=1": "404.7", "/pid": None,
    }  # fmt: skip


def test_static_folder_is_served_by_the_static_handler_with_its_cache_headers(tmp_path):
    site = write_site(tmp_path / "site")
    static = site / "static"
    (static / "css").mkdir(parents=True)
    (static / "css" / "site.css").write_text("body{}")
    (static / "font.woff2").write_bytes(b"wOF2")
    (static / "data.unknownext").write_text("?")
    (static / "web.config").write_text(
        """<configuration><system.webServer>
  <handlers>
    <clear/>
    <add name="StaticFile" path="*" verb="*" modules="StaticFileModule" resourceType="File"/>
  </handlers>
  <staticContent>
    <clientCache cacheControlMode="UseMaxAge" cacheControlMaxAge="365.00:00:00"
                 cacheControlCustom="public, immutable"/>
    <remove fileExtension=".woff2"/><mimeMap fileExtension=".woff2" mimeType="font/woff2"/>
  </staticContent>
</system.webServer></configuration>"""
    )
    with run_in_thread(site) as running:
        status, headers, body = get(running.url + "/static/css/site.css")
        assert (status, body) == (200, "body{}")
        assert headers["Content-Type"].startswith("text/css")
        assert headers["Cache-Control"] == "max-age=31536000, public, immutable"
        assert get(running.url + "/static/font.woff2")[1]["Content-Type"] == "font/woff2"
        substatus = {
            path: get(running.url + path, method=method)[1].get("X-IIS-Substatus")
            for path, method in [("/static/missing.css", "GET"), ("/static/css/", "GET"),
                                 ("/static/data.unknownext", "GET"), ("/static/css/site.css", "POST")]
        }  # fmt: skip
        assert running.emulator.pool.launched == [], "Python never ran for static/"
    assert substatus == {
        "/static/missing.css": "404.0", "/static/css/": "403.14",
        "/static/data.unknownext": "404.3", "/static/css/site.css": "405.0",
    }  # fmt: skip


# --- proxying ------------------------------------------------------------------------------------
def test_forwarded_headers_are_appended_and_host_kept(tmp_path):
    site = write_site(tmp_path / "site")
    with run_in_thread(site) as running:
        forged = {"Host": "www.example.test", "X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}
        status, _, body = get(running.url + "/headers", headers=forged)
    assert status == 200
    seen = json.loads(body)
    headers = {k.lower(): v for k, v in seen["headers"]}
    assert seen["host"] == "www.example.test"
    assert re.fullmatch(r"203\.0\.113\.9, 127\.0\.0\.1:\d+", headers["x-forwarded-for"])
    assert headers["x-forwarded-proto"] == "https, http", "the client's value is kept, HPH's appended"


def test_bodies_stream_both_ways_over_one_keep_alive_connection(tmp_path):
    site = write_site(tmp_path / "site")
    with run_in_thread(site) as running:
        connection = http.client.HTTPConnection("127.0.0.1", running.port, timeout=30)
        payload = os.urandom(300_000)
        connection.request("POST", "/echo", body=payload)
        response = connection.getresponse()
        assert response.status == 200 and response.read() == payload
        connection.request("POST", "/echo", body=iter([b"a" * 1000, b"b" * 10]), encode_chunked=True)
        assert connection.getresponse().read() == b"a" * 1000 + b"b" * 10
        connection.request("GET", "/stream")
        response = connection.getresponse()
        assert response.getheader("Transfer-Encoding") == "chunked"
        assert response.read() == b"part 0\npart 1\npart 2\n"
        connection.close()


def test_websocket_upgrade_is_relayed(tmp_path):
    site = write_site(tmp_path / "site")

    async def talk(url):
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(url + "/ws", protocols=["echo"]) as ws,
        ):
            await ws.send_str("hello")
            text = await ws.receive_str(timeout=10)
            await ws.send_bytes(b"\x00\x01")
            return ws.protocol, text, await ws.receive_bytes(timeout=10)

    with run_in_thread(site) as running:
        assert asyncio.run(talk(running.url)) == ("echo", "hello", b"\x00\x01")


def test_request_timeout_answers_502_3(tmp_path):
    site = write_site(tmp_path / "site", requestTimeout="00:01:00")
    with run_in_thread(site, request_timeout=0.5, stop_grace=0.5) as running:
        assert get(running.url + "/pid")[0] == 200
        started = time.monotonic()
        status, headers, body = get(running.url + "/sleep/5")
        assert time.monotonic() - started < 4
    assert (status, headers["X-IIS-Substatus"]) == (502, "502.3")
    assert "requestTimeout" in body


# --- the process -----------------------------------------------------------------------------------
def test_slow_start_is_killed_after_startup_time_limit_and_retried(tmp_path):
    site = write_site(tmp_path / "site", "--start-delay 30", startupTimeLimit="1", startupRetryCount="2")
    with run_in_thread(site) as running:
        started = time.monotonic()
        status, headers, body = get(running.url + "/pid")
        elapsed = time.monotonic() - started
        pids = running.emulator.pool.launched
    assert (status, headers["X-IIS-Substatus"]) == (502, "502.3")
    assert "startupTimeLimit=1s" in body
    assert len(pids) == 2, "startupRetryCount=2 launches, then gives up"
    assert elapsed >= 2
    assert not any(pid_alive(p) for p in pids), "a process that did not start in time is killed"


def test_a_process_that_exits_at_start_is_tried_startup_retry_count_times(tmp_path):
    launches = tmp_path / "launches.txt"
    site = write_site(tmp_path / "site", f'--exit-at-start 4 --launches "{launches}"', startupRetryCount="3")
    with run_in_thread(site) as running:
        status, _, body = get(running.url + "/pid")
    assert status == 502 and "exited with code 4" in body
    assert len(launches.read_text().split()) == 3


def test_a_crashed_process_is_restarted_on_the_next_request(tmp_path):
    site = write_site(tmp_path / "site")
    with run_in_thread(site) as running:
        first = get(running.url + "/pid")[2]
        assert get(running.url + "/crash")[0] == 502
        assert wait_until(lambda: not running.emulator.pool.slots[0].alive)
        status, _, second = get(running.url + "/pid")
    assert status == 200 and second != first


def test_rapid_fails_stop_restarts_for_the_rest_of_the_minute(tmp_path):
    now = [1000.0]
    site = write_site(tmp_path / "site", rapidFailsPerMinute="1")
    with run_in_thread(site, clock=lambda: now[0]) as running:
        for _ in range(2):
            assert get(running.url + "/pid")[0] == 200
            get(running.url + "/crash")
            assert wait_until(lambda: not running.emulator.pool.slots[0].alive)
        status, _, body = get(running.url + "/pid")
        assert status == 502 and "rapidFailsPerMinute=1" in body
        assert len(running.emulator.pool.launched) == 2
        now[0] += 61
        assert get(running.url + "/pid")[0] == 200, "a minute later it starts again"


def test_processes_per_application_take_turns(tmp_path):
    site = write_site(tmp_path / "site", processesPerApplication="2")
    with run_in_thread(site) as running:
        pids = [get(running.url + "/pid")[2] for _ in range(6)]
    assert len(set(pids)) == 2
    assert pids[0::2] == [pids[0]] * 3 and pids[1::2] == [pids[1]] * 3


def test_stdout_log_files_are_named_as_hph_names_them(tmp_path):
    site = write_site(tmp_path / "site", stdoutLogEnabled="true", stdoutLogFile=r".\logs\httpplatform-stdout")
    (site / "logs").mkdir()
    with run_in_thread(site) as running:
        pid = get(running.url + "/pid")[2]
    (log,) = (site / "logs").iterdir()
    assert re.fullmatch(rf"httpplatform-stdout_{pid}_\d{{9,14}}\.log", log.name)
    assert f"backend {pid} starting" in log.read_text()


def test_a_change_to_a_recycle_file_restarts_the_process(tmp_path):
    children = '<recycleOnFileChange><file path=".\\restart.txt"/></recycleOnFileChange>'
    site = write_site(tmp_path / "site", children=children)
    (site / "restart.txt").write_text("1")
    with run_in_thread(site, watch_interval=0.05) as running:
        first = get(running.url + "/pid")[2]
        (site / "restart.txt").write_text("22")
        assert wait_until(lambda: running.emulator.recycles == 1)
        second = get(running.url + "/pid")[2]
        assert not pid_alive(int(first))
    assert second != first


def test_shutdown_stops_the_whole_process_tree(tmp_path):
    site = write_site(tmp_path / "site")
    with run_in_thread(site, stop_grace=1) as running:
        parent = int(get(running.url + "/pid")[2])
        grandchild = int(get(running.url + "/child")[2])
        assert pid_alive(grandchild)
    assert wait_until(lambda: not pid_alive(parent) and not pid_alive(grandchild), timeout=5)


# --- this project behind the emulator --------------------------------------------------------------
def test_a_forged_forwarded_proto_does_not_make_django_think_it_is_https(tmp_path, production_env):
    """The project's own web.config, HTTPS on: a plain-HTTP client claiming https is redirected."""
    if not (ROOT / ".venv").is_dir():
        pytest.skip("needs the project's .venv (python bootstrap.py)")
    site = tmp_path / "site"
    (site / "logs").mkdir(parents=True)
    (site / "web.config").write_bytes((ROOT / "web.config").read_bytes())
    try:
        (site / ".venv").symlink_to(ROOT / ".venv", target_is_directory=True)
    except OSError as exc:
        pytest.skip(f"cannot link the venv here: {exc}")
    env = {**production_env, "DJANGO_HTTPS": "1", "PYTHONPATH": str(ROOT), "DJANGO_LOG_DIR": str(tmp_path)}
    assert webconfig.load_http_platform(site / "web.config").process_path.startswith(".")
    with run_in_thread(site, environ=env) as running:
        forged = {"X-Forwarded-Proto": "https"}
        status, headers, _ = get(running.url + "/", headers=forged)
        # Control: straight to uvicorn, a single trusted value IS believed, so the check can fail.
        backend = running.emulator.pool.slots[0]
        direct = http.client.HTTPConnection("127.0.0.1", backend.port, timeout=30)
        direct.request("GET", "/", headers=forged)
        direct_status = direct.getresponse().status
    assert status == 301 and headers["Location"].startswith("https://")
    assert direct_status == 200
