"""The IIS + HttpPlatformHandler emulator (iishost/emulator) against tiny backends.

Each test writes a web.config whose processPath is this Python and whose arguments start
iishost/tests/emulator_backend.py, then talks HTTP to the emulator running in a thread.
"""

import asyncio
import dataclasses
import html
import http.client
import json
import os
import re
import signal
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
from iishost.emulator.site import Emulator, PortInUse
from iishost.emulator.threaded import run_in_thread
from iishost.tests.fakes.hph_schema import write_schema

BACKEND = Path(__file__).with_name("emulator_backend.py")
ROOT = PROJECT_ROOT


def write_site(site, backend_args="", children="", extra="", **attributes):
    """A web.config running the tiny backend; attributes override the <httpPlatform> ones."""
    attrs = {
        "processPath": sys.executable,
        "arguments": f'"{BACKEND}" --port %HTTP_PLATFORM_PORT% {backend_args}',
        "startupTimeLimit": "10",
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


def test_log_file_names_follow_each_build():
    when = datetime(2025, 3, 4, 5, 6, 7)
    assert log_file_name(Path("stdout"), 42, when).name == "stdout_42_202534567.log"
    assert log_file_name(Path("stdout"), 42, when, "2").name == "stdout_20250304050607_42.log"


# --- the configuration ---------------------------------------------------------------------------
def test_invalid_http_platform_answers_500_19_with_the_reason(tmp_path):
    site = write_site(tmp_path / "site", requestTimeout="00:00:30")
    with run_in_thread(site) as running:
        status, headers, body = get(running.url + "/")
        assert running.emulator.pool is None, "no process is started for an invalid configuration"
    assert status == 500 and headers["X-IIS-Substatus"] == "500.19"
    assert "must be a multiple of 60 seconds" in body


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


def test_stopping_closes_open_websockets_at_once(tmp_path):
    """Ctrl-C on `invoke serve` with a WebSocket open: the client is told 1001 (going away, RFC 6455
    section 7.4.1) and the stop is prompt, instead of aiohttp waiting 60 s for a relay that never ends."""
    site = write_site(tmp_path / "site")

    async def connect(url):
        session = aiohttp.ClientSession()
        return session, await session.ws_connect(url + "/ws", protocols=["echo"])

    async def closing(session, ws):
        message = await ws.receive(timeout=10)
        await session.close()
        return message.type, message.data

    with run_in_thread(site) as running:
        loop = asyncio.new_event_loop()
        session, ws = loop.run_until_complete(connect(running.url))
        started = time.monotonic()
        running.call(running.emulator.close(), timeout=30)
        stopped = time.monotonic() - started
        assert loop.run_until_complete(closing(session, ws)) == (aiohttp.WSMsgType.CLOSE, 1001)
        loop.close()
    assert stopped < 10


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
    with run_in_thread(site, hph_builds=("1.2",)) as running:
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
    with run_in_thread(site, hph_builds=("1.2",)) as running:
        status, _, body = get(running.url + "/pid")
    assert status == 502 and "exited with code 4" in body
    assert len(launches.read_text().split()) == 3


def test_v2_tries_a_failing_start_twice(tmp_path):
    """v2 has no startupRetryCount: serverprocess.cpp tries twice (dwRetryCount = 2)."""
    launches = tmp_path / "launches.txt"
    site = write_site(tmp_path / "site", f'--exit-at-start 4 --launches "{launches}"')
    with run_in_thread(site, hph_builds=("2",)) as running:
        assert get(running.url + "/pid")[0] == 502
    assert len(launches.read_text().split()) == 2


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


@pytest.mark.parametrize("build", ["1.2", "2"])
def test_stdout_log_files_are_named_as_hph_names_them(tmp_path, build):
    """The pid in the name is the worker process's (here the emulator's), not the backend's."""
    site = write_site(tmp_path / "site", stdoutLogEnabled="true", stdoutLogFile=r".\logs\httpplatform-stdout")
    (site / "logs").mkdir()
    with run_in_thread(site, hph_builds=(build,)) as running:
        pid = get(running.url + "/pid")[2]
    (log,) = (site / "logs").iterdir()
    pattern = rf"_{os.getpid()}_\d{{9,14}}" if build == "1.2" else rf"_\d{{14}}_{os.getpid()}"
    assert re.fullmatch(rf"httpplatform-stdout{pattern}\.log", log.name)
    assert f"backend {pid} starting" in log.read_text()


def test_two_processes_started_in_the_same_second_share_one_log_name(tmp_path, monkeypatch):
    """HPH opens the log with read sharing only: the second process of the same second gets none."""
    import threading

    class Frozen(datetime):
        @classmethod
        def now(cls, tz=None):
            return datetime(2025, 3, 4, 5, 6, 7, tzinfo=tz)

    monkeypatch.setattr("iishost.emulator.backend.datetime", Frozen)
    site = write_site(
        tmp_path / "site",
        processesPerApplication="2",
        stdoutLogEnabled="true",
        stdoutLogFile=r".\logs\out",
    )
    (site / "logs").mkdir()
    with run_in_thread(site) as running:
        pids = []
        threads = [
            threading.Thread(target=lambda: pids.append(get(running.url + "/pid")[2])) for _ in range(2)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    (log,) = (site / "logs").iterdir()
    assert len(set(pids)) == 2
    assert sum(f"backend {pid} starting" in log.read_text() for pid in pids) == 1, "one process lost"


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


def test_an_app_pool_recycle_restarts_the_processes_on_the_new_code(tmp_path):
    """`invoke deploy` recycles the pool after a checkout; without the signal the emulator kept
    serving the old code (web.config unchanged) where IIS serves the new."""
    site = write_site(tmp_path / "site")
    signal = tmp_path / "iis" / "recycled.log"  # the fake appcmd's: created at the first recycle
    with run_in_thread(site, watch_interval=0.05, recycle_signal=signal) as running:
        first = get(running.url + "/pid")[2]
        signal.parent.mkdir()
        signal.write_text("pool\n")
        assert wait_until(lambda: running.emulator.recycles == 1)
        second = get(running.url + "/pid")[2]
        assert not pid_alive(int(first)) and second != first
    # Between two polls too: the request right after the recycle reaches a new process, as in IIS.
    with run_in_thread(site, watch_interval=3600, recycle_signal=signal) as running:
        third = get(running.url + "/pid")[2]
        signal.write_text("pool\npool\n")
        assert get(running.url + "/pid")[2] != third and running.emulator.recycles == 1


def test_shutdown_stops_the_whole_process_tree(tmp_path):
    site = write_site(tmp_path / "site")
    with run_in_thread(site, stop_grace=1) as running:
        parent = int(get(running.url + "/pid")[2])
        grandchild = int(get(running.url + "/child")[2])
        assert pid_alive(grandchild)
    assert wait_until(lambda: not pid_alive(parent) and not pid_alive(grandchild), timeout=5)


# --- HttpPlatformHandler 1.2 and v2 ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("attributes", "children", "refused_by"),
    [
        ({"startupRetryCount": "3"}, "", {"2"}),  # v1.2 only
        ({}, '<handlerSettings><handlerSetting name="a" value="b"/></handlerSettings>', {"1.2"}),  # v2 only
        ({"requestTimeout": "20.00:00:00"}, "", {"2"}),  # 1.2: up to 30 days; v2: up to 15
        ({"requestTimeout": "00:00:30"}, "", {"1.2"}),  # 1.2: whole minutes; v2: seconds
        ({}, '<environmentVariables><remove name="X"/></environmentVariables>', {"1.2", "2"}),
    ],
)
def test_each_build_refuses_what_its_schema_lacks_with_500_19(tmp_path, attributes, children, refused_by):
    site = write_site(tmp_path / "site", children=children, **attributes)
    for builds in (("1.2",), ("2",), ("1.2", "2")):
        with run_in_thread(site, hph_builds=builds) as running:
            status, headers, body = get(running.url + "/pid")
        refused = bool(set(builds) & refused_by)
        assert (status == 500 and headers.get("X-IIS-Substatus") == "500.19") is refused, (builds, body)


def test_the_default_checks_both_builds_and_names_the_one_that_refuses(tmp_path):
    site = write_site(tmp_path / "site", startupRetryCount="3")
    with run_in_thread(site) as running:
        status, _, body = get(running.url + "/pid")
    assert status == 500
    assert 'HttpPlatformHandler 2: unrecognized attribute "startupRetryCount"' in html.unescape(body)


# --- the doctor's diagnosis on the error pages (iishost/doctor/diagnose.py) --------------------------
def test_500_19_names_the_attribute_the_build_lacks_and_the_fix(tmp_path):
    site = write_site(tmp_path / "site", startupRetryCount="3")
    with run_in_thread(site, hph_builds=("2",)) as running:
        status, _, body = get(running.url + "/pid")
    body = html.unescape(body)
    assert status == 500 and "web.config would not load under HttpPlatformHandler 2" in body
    assert "Fix: remove the attribute startupRetryCount from <httpPlatform>" in body
    assert "v2 has no startupRetryCount" in body


def test_502_shows_the_crashed_backends_exit_code_traceback_and_fix(tmp_path):
    site = write_site(
        tmp_path / "site",
        arguments='-c "import not_a_module_502"',
        stdoutLogEnabled="true",
        stdoutLogFile=r".\logs\httpplatform-stdout",
    )
    (site / "logs").mkdir()
    with run_in_thread(site, hph_builds=("2",)) as running:
        status, _, body = get(running.url + "/pid")
    body = html.unescape(body)
    assert status == 502 and "Diagnosis (invoke doctor)" in body
    assert "crashed (exit code 1)" in body and "No module named 'not_a_module_502'" in body
    assert "Fix: fix what the traceback names (ModuleNotFoundError" in body


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="listeners are read from Linux's /proc")
def test_502_says_the_backend_listens_on_another_port(tmp_path):
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        fixed = probe.getsockname()[1]
    site = write_site(tmp_path / "site", arguments=f'"{BACKEND}" --port {fixed}', startupTimeLimit="2")
    with run_in_thread(site, hph_builds=("2",)) as running:
        status, _, body = get(running.url + "/pid")
    body = html.unescape(body)
    assert status == 502 and "does not listen on HTTP_PLATFORM_PORT" in body
    assert f"listening on {fixed} instead?" in body and "--port %HTTP_PLATFORM_PORT%" in body


def test_502_names_a_start_slower_than_startup_time_limit(tmp_path):
    site = write_site(tmp_path / "site", "--start-delay 30", startupTimeLimit="1")
    with run_in_thread(site, hph_builds=("2",)) as running:
        status, _, body = get(running.url + "/pid")
    assert status == 502 and "slower than startupTimeLimit (1 s)" in html.unescape(body)


def test_build_of_schema_names_each_build_from_a_servers_write_schema(tmp_path):
    """A server's httpplatform_schema.xml names its build; one that matches neither (a build this
    project has not seen, a damaged file) names none."""
    for build, schema in webconfig.SCHEMAS.items():
        assert webconfig.build_of_schema(write_schema(tmp_path / f"{build}.xml", schema)) == build
    v2 = webconfig.SCHEMAS["2"]
    wider = dataclasses.replace(v2.attributes["processesPerApplication"], high=200)
    changed = dataclasses.replace(v2, attributes={**v2.attributes, "processesPerApplication": wider})
    assert webconfig.build_of_schema(write_schema(tmp_path / "other.xml", changed)) is None
    (tmp_path / "empty.xml").write_text("<configSchema/>")
    assert webconfig.build_of_schema(tmp_path / "empty.xml") is None
    assert webconfig.build_of_schema(tmp_path / "missing.xml") is None


def test_v2_defaults_forward_windows_auth_token_to_true():
    element = webconfig.read_string('<httpPlatform processPath="x"/>')
    assert webconfig.parse_http_platform(element, builds=("2",)).forward_windows_auth_token is True
    assert webconfig.parse_http_platform(element, builds=("1.2",)).forward_windows_auth_token is False


# --- http.sys and request filtering --------------------------------------------------------------
def raw_request(port, data, timeout=10):
    """Send raw bytes, return (status, headers dict, body) of the answer."""
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        response = http.client.HTTPResponse(sock)
        response.begin()
        return response.status, dict(response.getheaders()), response.read().decode()


def test_request_limits_answer_as_iis(tmp_path):
    extra = """<security><requestFiltering>
      <requestLimits maxAllowedContentLength="1000"/>
    </requestFiltering></security>"""
    site = write_site(tmp_path / "site", extra=extra)
    with run_in_thread(site) as running:

        def substatus(path, **options):
            status, headers, body = get(running.url + path, **options)
            code = headers.get("X-IIS-Substatus")
            assert code is None or (str(status) == code.split(".")[0] and f"HTTP Error {code}" in body)
            return code

        results = {
            "body 1001": substatus("/echo", method="POST", data=b"x" * 1001),
            "body 1000": substatus("/echo", method="POST", data=b"x" * 1000),
            "query 2049": substatus("/pid?" + "q" * 2049),
            "query 2048": substatus("/pid?" + "q" * 2048),
            "url 4097": substatus("/pid/" + "/".join(["s" * 200] * 20) + "/" + "x" * 72),
            "url 4096": substatus("/pid/" + "/".join(["s" * 200] * 20) + "/" + "x" * 71),
            "plus": substatus("/a+b"),
            "double": substatus("/a%2541"),
            "single": substatus("/a%41"),
            "high bit": substatus("/%C3%A9t%C3%A9"),
        }
    assert results == {
        "body 1001": "404.13", "body 1000": None, "query 2049": "404.15", "query 2048": None,
        "url 4097": "404.14", "url 4096": None, "plus": "404.11", "double": "404.11", "single": None,
        "high bit": None,
    }  # fmt: skip


def test_high_bit_characters_are_refused_when_configured(tmp_path):
    extra = '<security><requestFiltering allowHighBitCharacters="false"/></security>'
    site = write_site(tmp_path / "site", extra=extra)
    with run_in_thread(site) as running:
        assert get(running.url + "/%C3%A9")[1].get("X-IIS-Substatus") == "404.12"
        assert get(running.url + "/pid")[0] == 200


def test_http_sys_refuses_control_characters_and_long_segments_before_iis(tmp_path):
    site = write_site(tmp_path / "site")
    with run_in_thread(site) as running:
        answers = {
            path: raw_request(running.port, f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            for path in ("/a%0ab", "/a%00b", "/a%7Fb", "/a%C2%85b", "/" + "a" * 261)
        }
        passed = {
            path: get(running.url + path)[2] for path in ("/path/" + "a" * 260, "/path/" + "%C3%A9" * 200)
        }
    for path, (status, headers, body) in answers.items():
        assert status == 400, path
        assert headers["Server"] == "Microsoft-HTTPAPI/2.0" and "Invalid URL" in body, path
    expected = ["/path/" + "a" * 260, "/path/" + "\u00e9" * 200]
    assert list(passed.values()) == expected, "http.sys lets them through"


def test_an_absolute_uri_request_line_is_served_for_its_path_and_host(tmp_path):
    site = write_site(tmp_path / "site")
    with run_in_thread(site) as running:
        status, _, body = raw_request(
            running.port, b"GET http://www.example.test/headers?x=1 HTTP/1.1\r\nHost: other\r\n\r\n"
        )
    assert status == 200
    seen = json.loads(body)
    assert seen["host"] == "www.example.test" and seen["path_qs"] == "/headers?x=1"


def test_no_request_target_gets_the_emulators_own_router_answer(tmp_path):
    site = write_site(tmp_path / "site")
    with run_in_thread(site) as running:
        answers = [
            raw_request(running.port, f"{line}\r\nHost: x\r\n\r\n".encode())
            for line in ("OPTIONS * HTTP/1.1", "CONNECT example.com:443 HTTP/1.1", "GET /a%0a HTTP/1.1")
        ]
    for _status, headers, body in answers:
        assert "404: Not Found" not in body and headers["Server"].startswith("Microsoft-"), body


def test_emulator_faults_answer_iis_500_not_aiohttp(tmp_path, monkeypatch):
    site = write_site(tmp_path / "site")

    def broken(*args):
        raise RuntimeError("a bug in the emulator")

    monkeypatch.setattr("iishost.emulator.site.request_filtering", broken)
    with run_in_thread(site) as running:
        status, headers, body = get(running.url + "/pid")
    assert (status, headers["Server"], headers["X-IIS-Substatus"]) == (500, "Microsoft-IIS/10.0", "500.0")


# --- headers -------------------------------------------------------------------------------------
def test_server_header_is_iis_on_its_own_answers_and_the_backends_otherwise(tmp_path):
    extra = """<security><requestFiltering>
      <hiddenSegments><add segment="h"/></hiddenSegments>
    </requestFiltering></security>"""
    site = write_site(tmp_path / "site", extra=extra)
    with run_in_thread(site) as running:
        own = get(running.url + "/h")[1]
        with_server = get(running.url + "/pid")[1]
        without_server = get(running.url + "/no-server")[1]
    assert own["Server"] == "Microsoft-IIS/10.0"
    assert with_server["Server"].startswith("Python/"), "the backend's own Server header is kept"
    assert "Server" not in without_server, "HPH deletes Server when the backend sent none"
    assert "aiohttp" not in str(without_server)


def test_custom_headers_go_on_every_answer_and_iis_adds_x_powered_by(tmp_path):
    plain = write_site(tmp_path / "plain")
    custom = write_site(
        tmp_path / "custom",
        extra="""<httpProtocol><customHeaders>
          <remove name="X-Powered-By"/><add name="X-Frame" value="DENY"/>
        </customHeaders></httpProtocol>""",
    )
    with run_in_thread(plain) as running:
        defaults = [get(running.url + path)[1] for path in ("/pid", "/web.config")]
    with run_in_thread(custom) as running:
        changed = [get(running.url + path)[1] for path in ("/pid", "/web.config")]
    assert [h.get("X-Powered-By") for h in defaults] == ["ASP.NET", "ASP.NET"], "applicationHost adds it"
    assert [(h.get("X-Powered-By"), h.get("X-Frame")) for h in changed] == [(None, "DENY")] * 2


def test_only_connection_is_removed_from_the_request_headers(tmp_path):
    site = write_site(tmp_path / "site")
    sent = {
        "Keep-Alive": "timeout=5", "TE": "trailers", "Proxy-Authorization": "Basic eA==",
        "Upgrade": "h2c", "Trailer": "X-T", "MS-ASPNETCORE-TOKEN": "forged",
        "Connection": "keep-alive, X-Drop",
    }  # fmt: skip
    with run_in_thread(site) as running:
        status, _, body = get(running.url + "/headers", headers=sent)
    assert status == 200
    seen = {k.lower(): v for k, v in json.loads(body)["headers"]}
    for name in ("keep-alive", "te", "proxy-authorization", "upgrade", "trailer"):
        assert seen.get(name) == sent[{k.lower(): k for k in sent}[name]], name
    assert "connection" not in seen or seen["connection"] != sent["Connection"]
    assert "ms-aspnetcore-token" not in seen


# --- the emulator's own life -------------------------------------------------------------------------
def test_a_port_in_use_is_a_clear_message(tmp_path):
    import socket

    site = write_site(tmp_path / "site")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        async def start():
            emulator = Emulator(site)
            with pytest.raises(PortInUse, match=rf"cannot listen on 127\.0\.0\.1:{port}.*--port"):
                await emulator.start("127.0.0.1", port)

        asyncio.run(start())
        result = subprocess.run(
            [sys.executable, "-m", "iishost.emulator", "--site-root", str(site), "--port", str(port)],
            cwd=ROOT, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr and "Traceback" not in result.stderr


def _start_supervised(site, port, supervisor):
    code = (
        "import sys; from iishost.emulator.tasks import supervise; "
        f"sys.exit(supervise([sys.executable, '-m', 'iishost.emulator', '--site-root', {str(site)!r}, "
        f"'--port', '{port}']))"
    )
    argv = [sys.executable, "-c", code] if supervisor else [
        sys.executable, "-m", "iishost.emulator", "--site-root", str(site), "--port", str(port)
    ]  # fmt: skip
    process = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if not wait_until(lambda: _answers(port), timeout=30):
        process.kill()  # (its backends die with it: die_with_parent)
        pytest.fail("the emulator did not answer within 30 s")
    return process


def _answers(port):
    try:
        return get(f"http://127.0.0.1:{port}/pid", timeout=10)[0] == 200
    except OSError:
        return False


def _free_port():
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_backends_die_with_a_killed_emulator(tmp_path):
    site, port = write_site(tmp_path / "site", processesPerApplication="2"), _free_port()
    emulator = _start_supervised(site, port, supervisor=False)
    try:
        pids = {int(get(f"http://127.0.0.1:{port}/pid")[2]) for _ in range(2)}
        assert len(pids) == 2
        emulator.kill()
        emulator.wait(10)
        assert wait_until(lambda: not any(pid_alive(p) for p in pids), timeout=10), "backends outlived IIS"
    finally:
        emulator.kill()


@pytest.mark.skipif(os.name == "nt", reason="SIGTERM")
def test_sigterm_to_invoke_serve_stops_the_emulator_and_its_backends(tmp_path):
    site, port = write_site(tmp_path / "site"), _free_port()
    supervisor = _start_supervised(site, port, supervisor=True)
    try:
        backend = int(get(f"http://127.0.0.1:{port}/pid")[2])
        supervisor.send_signal(signal.SIGTERM)
        assert supervisor.wait(30) == 0
        assert not _answers(port), "the emulator is still up"
        assert wait_until(lambda: not pid_alive(backend), timeout=10)
    finally:
        supervisor.kill()


# --- this project behind the emulator --------------------------------------------------------------
def project_site(tmp_path):
    """A site folder with this project's own web.config and venv (the emulator starts uvicorn)."""
    if not (ROOT / ".venv").is_dir():
        pytest.skip("needs the project's .venv (python bootstrap.py)")
    site = tmp_path / "site"
    (site / "logs").mkdir(parents=True)
    (site / "web.config").write_bytes((ROOT / "web.config").read_bytes())
    try:
        (site / ".venv").symlink_to(ROOT / ".venv", target_is_directory=True)
    except OSError as exc:
        pytest.skip(f"cannot link the venv here: {exc}")
    assert webconfig.load_http_platform(site / "web.config").process_path.startswith(".")
    return site


def https_env(production_env, tmp_path, **extra):
    env = {**production_env, "DJANGO_HTTPS": "1", "PYTHONPATH": str(ROOT), "DJANGO_LOG_DIR": str(tmp_path)}
    return {**env, **extra}


def test_a_forged_forwarded_proto_does_not_make_django_think_it_is_https(tmp_path, production_env):
    """IIS facing the clients, HTTPS on: a plain-HTTP client claiming https is redirected."""
    site = project_site(tmp_path)
    with run_in_thread(site, environ=https_env(production_env, tmp_path)) as running:
        forged = {"X-Forwarded-Proto": "https"}
        status, headers, _ = get(running.url + "/", headers=forged)
        # Control: straight to uvicorn as HPH would send it (one entry, from 127.0.0.1) it is
        # believed, so the check above can fail.
        backend = running.emulator.pool.slots[0]
        direct = http.client.HTTPConnection("127.0.0.1", backend.port, timeout=30)
        direct.request("GET", "/", headers={**forged, "X-Forwarded-For": "127.0.0.1:1"})
        direct_status = direct.getresponse().status
    assert status == 301 and headers["Location"].startswith("https://")
    assert direct_status == 200


@pytest.mark.parametrize("trusted", ["127.0.0.1", ""])
def test_behind_a_load_balancer_https_https_is_https_only_when_it_is_trusted(
    tmp_path, production_env, trusted
):
    """The balancer (here: the test, at 127.0.0.1) terminates TLS and sends X-Forwarded-Proto:
    https; HPH appends its own, so the app sees `https, http`. Trusted (DJANGO_TRUSTED_PROXIES),
    that is https: no redirect, no loop. Not trusted, it is a forgery like any other."""
    site = project_site(tmp_path)
    env = https_env(production_env, tmp_path, DJANGO_TRUSTED_PROXIES=trusted)
    with run_in_thread(site, environ=env) as running:
        balancer = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.7"}
        statuses = [get(running.url + "/", headers=balancer)[0] for _ in range(2)]  # both processes
    assert statuses == ([200, 200] if trusted else [301, 301])


def test_every_process_keeps_its_startup_traceback_whatever_the_build(tmp_path, production_env):
    """The project's web.config starts uvicorn through iishost.launch: each process writes its own
    log, so a startup failure of both processes (started in the same second) is on record twice,
    though HPH's shared stdout log name would keep only one of them."""
    import threading

    site = project_site(tmp_path)
    logs = tmp_path / "own-logs"
    logs.mkdir()
    env = {**production_env, "DJANGO_DEBUG": "maybe", "PYTHONPATH": str(ROOT), "DJANGO_LOG_DIR": str(logs)}
    for build in ("1.2", "2"):
        with run_in_thread(site, environ=env, hph_builds=(build,)) as running:
            threads = [threading.Thread(target=get, args=(running.url + "/",)) for _ in range(2)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            launched = list(running.emulator.pool.launched)
        assert len(launched) >= 2
        for pid in launched:
            (log,) = logs.glob(f"uvicorn_*_{pid}.log")
            assert "DJANGO_DEBUG='maybe' is not a boolean" in log.read_text(), (build, pid)


# --- Windows sign-in mode ------------------------------------------------------------------------
def token_header(body):
    return {k.lower(): v for k, v in json.loads(body)["headers"]}.get("x-iis-windowsauthtoken")


@pytest.mark.parametrize(
    ("build", "attributes", "forwards"),
    [
        ("2", {}, True),  # v2's schema default
        ("1.2", {}, False),  # 1.2's
        ("1.2", {"forwardWindowsAuthToken": "true"}, True),
        ("2", {"forwardWindowsAuthToken": "false"}, False),
    ],
)
def test_windows_sign_in_forwards_a_token_as_each_build_would(tmp_path, build, attributes, forwards):
    """HPH sets X-IIS-WindowsAuthToken (replacing a client's) only when forwardWindowsAuthToken is on;
    otherwise whatever the client sent passes on untouched, as HPH passes unknown headers."""
    site = write_site(tmp_path / "site", **attributes)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with run_in_thread(site, environ=env, hph_builds=(build,), windows_user="CONTOSO\\alice") as running:
        forged = {"X-IIS-WindowsAuthToken": "1a4"}
        token = token_header(get(running.url + "/headers", headers=forged)[2])
        status, _, user = get(running.url + "/signed-in")
    if forwards:
        assert re.fullmatch(r"[0-9a-f]{16}", token), token
        assert (status, user) == (200, "CONTOSO\\alice")
    else:
        assert token == "1a4"
        assert status == 403


def test_without_windows_sign_in_no_token_is_forwarded_and_no_key_given(tmp_path, monkeypatch):
    key = "ab" * 32
    monkeypatch.setenv("IISHOST_EMULATOR_WINAUTH_KEY", key)  # inherited from a shell: not passed on
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    site = write_site(tmp_path / "site", forwardWindowsAuthToken="true")
    with run_in_thread(site) as running:
        assert token_header(get(running.url + "/headers")[2]) is None
        status, _, body = get(running.url + "/signed-in", headers={"X-IIS-WindowsAuthToken": "1a4"})
    assert status == 403 and "no stand-in key (True)" in body


def test_web_config_cannot_give_the_stand_in_key_or_user(tmp_path):
    """The key is this run's, set after web.config's variables: a web.config naming a key and a user
    of its own gets neither, and a token of that key is refused."""
    from iishost.winauth.emulated import EmulatedTokens

    theirs = EmulatedTokens("cd" * 32, "EVIL\\mallory")
    children = (
        "<environmentVariables>"
        f'<environmentVariable name="IISHOST_EMULATOR_WINAUTH_KEY" value="{"cd" * 32}" />'
        '<environmentVariable name="IISHOST_EMULATOR_WINDOWS_USER" value="EVIL\\mallory" />'
        "</environmentVariables>"
    )
    site = write_site(tmp_path / "site", children=children, forwardWindowsAuthToken="false")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with run_in_thread(site, environ=env, windows_user="CONTOSO\\alice") as running:
        forged = {"X-IIS-WindowsAuthToken": theirs.issue()}
        status, _, body = get(running.url + "/signed-in", headers=forged)
    assert status == 403 and "not issued by this emulator run" in body


def test_invoke_serve_refuses_a_windows_user_that_is_no_account_name(tmp_path):
    write_site(tmp_path / "site")
    result = subprocess.run(
        [sys.executable, "-m", "iishost.emulator", "--site-root", str(tmp_path / "site"),
         "--windows-user", "alice\" onload=x"],
        capture_output=True, text=True, timeout=60, cwd=ROOT,
    )  # fmt: skip
    assert result.returncode == 2 and "give DOMAIN\\name" in result.stderr


def test_the_project_signs_the_windows_user_in_through_the_emulator(tmp_path, production_env, run_python):
    """End to end: the emulator signs in CONTOSO\\alice, HPH's header reaches uvicorn, and the home page
    says who is signed in, when the project has windows_auth; without it, nobody is."""
    from django.conf import settings

    if not settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"):
        pytest.skip("runs on a throw-away SQLite database; this project's is a server")
    site = project_site(tmp_path)
    database = f"sqlite:///{(tmp_path / 'db.sqlite3').as_posix()}"
    env = {
        **production_env,
        "PYTHONPATH": str(ROOT),
        "DJANGO_LOG_DIR": str(tmp_path),
        "DATABASE_URL": database,
        "DJANGO_HTTPS": "false",  # the emulator serves plain HTTP: an HTTPS site would redirect
    }
    assert run_python("manage.py", "migrate", "--noinput", "-v", "0", env=env).returncode == 0
    # As deploy and `invoke serve` do: a farm without REDIS_URL keeps its cache (and sessions) there.
    assert run_python("manage.py", "createcachetable", env=env).returncode == 0
    platform = webconfig.load_http_platform(site / "web.config")
    with run_in_thread(site, environ=env, windows_user="CONTOSO\\Alice") as running:
        status, _, body = get(running.url + "/")
        # Straight to the backend with a header: a handle value is good for one request only.
        backend = running.emulator.pool.slots[0]
        direct = http.client.HTTPConnection("127.0.0.1", backend.port, timeout=30)
        direct.request("GET", "/", headers={"X-IIS-WindowsAuthToken": "8000000000000000"})
        direct_status = direct.getresponse().status
    assert status == 200
    if platform.forward_windows_auth_token:  # the windows_auth answer
        assert "Signed in with Windows as alice." in html.unescape(body)
        assert direct_status == 403
    else:
        assert "Signed in" not in html.unescape(body)
        assert direct_status == 200
