"""The doctor's pure parts: diagnosis texts, netstat and wevtutil parsing, the report."""

import json
from datetime import datetime
from types import SimpleNamespace

from iishost.deploy.acl.state import parse_icacls
from iishost.doctor import diagnose, report
from iishost.doctor.eventlog import event_log, parse_events
from iishost.doctor.ports import parse_netstat
from iishost.doctor.python_acl import per_user_install, readers
from iishost.doctor.result import failed, passed, skipped

LOG = """iishost.launch: process 4242 writes its output to C:\\site\\logs\\uvicorn_20260101-120000_4242.log
Traceback (most recent call last):
  File "<frozen runpy>", line 198, in _run_module_as_main
  File "C:\\site\\.venv\\Lib\\site-packages\\uvicorn\\importer.py", line 19, in import_from_string
    module = importlib.import_module(module_str)
  File "C:\\site\\my_site\\asgi.py", line 3, in <module>
    import missing_thing
ModuleNotFoundError: No module named 'missing_thing'
"""


def test_traceback_keeps_the_last_frames_and_the_exception():
    lines = diagnose.traceback_lines(LOG, frames=2)
    assert lines[0].startswith('File "C:\\site\\.venv')
    assert lines[-2:] == ["  import missing_thing", "ModuleNotFoundError: No module named 'missing_thing'"]
    assert len(lines) == 5
    assert diagnose.traceback_lines("INFO: started\n") == []
    assert diagnose.launch_log(LOG) == "C:\\site\\logs\\uvicorn_20260101-120000_4242.log"


def test_crash_diagnosis_names_exit_code_error_and_fix():
    detail, fix = diagnose.crashed(1, LOG)
    assert detail.startswith("crashed (exit code 1)") and "missing_thing" in detail
    assert "ModuleNotFoundError: No module named 'missing_thing'" in fix
    assert "with no output" in diagnose.crashed(3, "")[0]


def test_config_fix_names_each_attribute_and_the_build_that_lacks_it():
    reasons = [
        'HttpPlatformHandler 2: unrecognized attribute "startupRetryCount"',
        'requestTimeout="x" is bad',
    ]
    fix = diagnose.config_fix(reasons, None)
    assert "remove the attribute startupRetryCount" in fix and "HttpPlatformHandler 2's schema" in fix
    assert "correct the values named above" in fix
    assert "HttpPlatformHandler 1.2's" in diagnose.config_fix(
        ['unrecognized element "handlerSettings"'], "1.2"
    )


NETSTAT = """
Active Connections

  Proto  Local Address          Foreign Address        State           PID
  TCP    0.0.0.0:80             0.0.0.0:0              LISTENING       4
  TCP    0.0.0.0:8000           0.0.0.0:0              ABHÖREN         3120
  TCP    10.0.0.5:51000         10.0.0.9:443           ESTABLISHED     3120
"""


def test_netstat_listeners_by_foreign_address_whatever_the_language():
    assert parse_netstat(NETSTAT) == {80: {4}, 8000: {3120}}
    linux = "Active Internet connections (servers and established)\nProto Recv-Q Send-Q Local Address\n"
    assert parse_netstat(linux) is None


EVENTS = """Event[0]:
  Log Name: System
  Source: Microsoft-Windows-WAS
  Date: 2026-01-02T03:04:05.000
  Event ID: 5002
  Level: Error
  Description:
Application pool 'my_site' is being automatically disabled.

Event[1]:
  Log Name: System
  Source: Microsoft-Windows-WAS
  Date: 2025-06-01T00:00:00.000
  Event ID: 5009
  Level: Error
  Description:
A process serving application pool 'my_site' terminated unexpectedly.
"""


def test_wevtutil_text_events_and_which_count_as_recent():
    events = parse_events(EVENTS)
    assert [e["Event ID"] for e in events] == ["5002", "5009"]
    assert events[0]["Description"] == "Application pool 'my_site' is being automatically disabled."
    ctx = SimpleNamespace(
        tools={"wevtutil": "wevtutil.exe"},
        query=lambda argv: SimpleNamespace(returncode=0, text=EVENTS if argv[2] == "System" else ""),
    )
    check = event_log(ctx, now=datetime(2026, 1, 2, 12, 0))
    assert check.status == "fail" and "1 in the last 24 hours" in check.detail and "rapid-fail" in check.fix
    assert event_log(ctx, now=datetime(2026, 2, 1)).status == "pass"


def test_per_user_python_and_read_access_through_groups():
    assert per_user_install(r"C:\Users\ann\AppData\Local\Programs\Python\Python312")
    assert not per_user_install(r"C:\Program Files\Python312")
    aces = parse_icacls("C:\\P", "C:\\P BUILTIN\\Users:(I)(OI)(CI)(RX)\n")
    assert readers(aces, "IIS AppPool\\s") == (True, False)
    denied = parse_icacls("C:\\P", "C:\\P IIS AppPool\\s:(DENY)(RX)\n    BUILTIN\\Users:(I)(OI)(CI)(RX)\n")
    assert readers(denied, "IIS APPPOOL\\s") == (False, True)


def test_report_text_and_json():
    checks = [
        passed("iis", "IIS installed", "HttpPlatformHandler 1.2"),
        failed("logs", "logs/ writable", "logs missing", "mkdir logs"),
        skipped("eventlog", "Event Log", "no wevtutil.exe"),
    ]
    text = report.text(checks)
    assert " 2. FAIL  logs: logs/ writable\n      logs missing\n      fix: mkdir logs" in text
    assert "skipped: no wevtutil.exe" in text and text.endswith(
        "1 passed, 1 failed, 1 skipped (nothing was changed)"
    )
    assert [c["status"] for c in json.loads(report.to_json(checks))] == ["pass", "fail", "skip"]
