"""The runner and the session's refusals: what a failed or forbidden change reports."""

import sys
import time
from pathlib import Path

import pytest

from iishost.deploy import tools
from iishost.deploy.config import from_config
from iishost.deploy.plan import Step
from iishost.deploy.runner import Runner, StepFailed
from iishost.deploy.session import Session

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="uses the POSIX true/false commands")


def test_not_elevated_refuses_before_any_change(monkeypatch):
    monkeypatch.setattr(tools, "is_elevated", lambda: False)
    session = Session(
        from_config({"iis": {"site_name": "s", "app_pool": "p"}}, Path("proj")), appcmd="appcmd"
    )
    with pytest.raises(Exception, match="Not elevated"):
        session.execute([Step("x", ["false"])], "IIS", ("appcmd",))


@posix_only
def test_failed_step_reports_applied_and_not_applied(tmp_path):
    steps = [Step("first", ["true"]), Step("second", ["false"]), Step("third", ["true"])]
    with pytest.raises(StepFailed) as failure:
        Runner(echo=lambda _: None).apply(steps)
    message = str(failure.value)
    assert "FAILED (exit code 1): second" in message
    assert "done: true" in message and "not done: false" in message and message.count("not done") == 2


def python_step(why, code):
    return Step(why, [sys.executable, "-c", code])


SLOW = "import time; print('first'); time.sleep(3); print('second')"  # no flush: the runner must unbuffer


def test_a_slow_step_streams_its_output_while_it_runs():
    """A long migrate must show its progress live (was: buffered until the end, killed at 120 s)."""
    seen = []
    start = time.monotonic()
    Runner(echo=lambda line: seen.append((time.monotonic() - start, line))).apply([python_step("slow", SLOW)])
    first = next(at for at, line in seen if line.endswith("first"))
    last = next(at for at, line in seen if line.endswith("second"))
    assert first < 2 <= last, seen
    assert Runner().timeout is None, "changing steps have no timeout unless deploy.step_timeout sets one"


def test_a_timeout_interrupt_or_missing_tool_ends_in_the_report():
    steps = [Step("first", [sys.executable, "-c", "pass"]), python_step("slow", SLOW), Step("third", ["x"])]
    with pytest.raises(StepFailed) as failure:
        Runner(echo=lambda _: None, timeout=1).apply(steps)
    message = str(failure.value)
    assert "TIMED OUT after 1 s (deploy.step_timeout): slow" in message, message
    assert "Applied before the failure (1)" in message and message.count("not done:") == 2
    assert "may be partly applied" in message and "| first" in message

    def ctrl_c(line):
        if line.endswith("first"):
            raise KeyboardInterrupt

    with pytest.raises(StepFailed, match="INTERRUPTED") as failure:
        Runner(echo=ctrl_c).apply(steps)
    assert "Applied before the failure (1)" in str(failure.value)

    missing = Step("tool", [str(Path(__file__).parent / "no-such-tool.exe"), "x"])
    with pytest.raises(StepFailed, match="COULD NOT START") as failure:
        Runner(echo=lambda _: None).apply([missing])
    assert "Applied before the failure (0)" in str(failure.value)


def test_ctrl_c_between_steps_still_reports_what_was_done():
    steps = [Step("first", [sys.executable, "-c", "pass"]), Step("second", [sys.executable, "-c", "pass"])]

    def ctrl_c_on_second(line):
        if line.startswith("- second"):
            raise KeyboardInterrupt

    with pytest.raises(StepFailed, match="INTERRUPTED \\(Ctrl\\+C\\) before it started: second") as failure:
        Runner(echo=ctrl_c_on_second).apply(steps)
    assert "Applied before the failure (1)" in str(failure.value)
