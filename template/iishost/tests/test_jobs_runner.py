"""The runner Task Scheduler starts (`python -m iishost.jobs.run`), run for real: a management
command in the project, its output in its own log file, its exit code passed on, a time limit kept."""

import os
import subprocess
import sys

from iishost import PROJECT_ROOT


def run_job(log_dir, *args, timeout=120):
    """As Task Scheduler starts it: in the project folder (the task's WorkingDirectory)."""
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env["DJANGO_LOG_DIR"] = str(log_dir)
    return subprocess.run(
        [sys.executable, "-m", "iishost.jobs.run", *args],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


def logs(log_dir, command):
    return sorted((log_dir / "jobs").glob(f"{command}-*.log"))


def test_a_command_runs_in_the_project_and_logs_to_its_own_file(tmp_path):
    result = run_job(tmp_path, "--", "check", "--tag", "models")
    assert result.returncode == 0, result.stdout + result.stderr
    (log,) = logs(tmp_path, "check")
    text = log.read_text(encoding="utf-8")
    assert str(PROJECT_ROOT / "manage.py") in text and "check --tag models" in text
    assert "System check identified no issues" in text and text.rstrip().endswith("exit code 0")


def test_a_failing_command_exits_non_zero_and_its_error_is_logged(tmp_path):
    result = run_job(tmp_path, "--", "nosuchcommand")
    assert result.returncode == 1
    (log,) = logs(tmp_path, "nosuchcommand")
    assert "Unknown command: 'nosuchcommand'" in log.read_text(encoding="utf-8")


def test_a_command_over_its_time_limit_is_stopped_and_reported(tmp_path):
    result = run_job(tmp_path, "--time-limit", "2", "--", "shell", "-c", "import time; time.sleep(60)")
    assert result.returncode == 124, result.stdout + result.stderr
    (log,) = logs(tmp_path, "shell")
    assert "stopped at its time limit of 2 s (exit code 124)" in log.read_text(encoding="utf-8")


def test_only_the_newest_logs_are_kept_and_bad_names_are_refused(tmp_path):
    folder = tmp_path / "jobs"
    folder.mkdir()
    for stamp in ("20200101-000000-1", "20200102-000000-1", "20200103-000000-1"):
        (folder / f"check-{stamp}.log").write_text("old", encoding="utf-8")
    (folder / "other-20200101-000000-1.log").write_text("kept", encoding="utf-8")
    assert run_job(tmp_path, "--keep", "2", "--", "check").returncode == 0
    kept = [p.name for p in logs(tmp_path, "check")]
    assert len(kept) == 2 and kept[0] == "check-20200103-000000-1.log", kept
    assert (folder / "other-20200101-000000-1.log").exists()
    for bad in (["--", "../x"], ["--", "a b"], []):
        result = run_job(tmp_path, *bad)
        assert result.returncode == 2 and "give a manage.py command name" in result.stderr
