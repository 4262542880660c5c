"""The runner and the session's refusals: what a failed or forbidden change reports."""

import sys
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
