"""The scheduled-jobs planner, task XML and settings, from hand-written Task Scheduler states."""

import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from iishost.deploy.acl.plan import JOBS_IDENTITY, plan_grants
from iishost.deploy.acl.state import AclState, parse_icacls
from iishost.deploy.config import SettingsError, from_config
from iishost.deploy.jobs.config import parse_schedule
from iishost.deploy.jobs.plan import definition, plan_register, plan_run, plan_unregister, venv_python
from iishost.deploy.jobs.state import JobsState, in_folder, list_tasks
from iishost.deploy.jobs.taskxml import NS, duration, parse, seconds_of, summary
from iishost.deploy.plan import Refusal
from iishost.deploy.runner import Result

SCHTASKS = r"C:\Windows\System32\schtasks.exe"
ROOT = Path(r"C:\sites\my site")
CLEAR = {"command": "clearsessions", "schedule": "daily 03:00", "time_limit": "3600"}


def settings(scheduled=None, folder="my_site", database="sqlite"):
    config = {
        "project": {"slug": "my_site", "database": database},
        "iis": {"site_name": "my_site", "app_pool": "my_site", "hostnames": ["localhost"]},
        "jobs": {"folder": folder, "scheduled": {"clearsessions": CLEAR} if scheduled is None else scheduled},
    }
    return from_config(config, ROOT)


def registered(s, **changes) -> JobsState:
    """Task Scheduler after `jobs.register` for settings `s` (each task read back from its XML)."""
    tasks = {}
    for job in s.jobs.jobs:
        path = s.jobs.path(job.name)
        tasks[path.lower()] = summary(parse(definition(s, s.jobs, job)))
    for key, value in changes.items():
        tasks[key] = value
    return JobsState(tasks)


def test_fresh_task_scheduler_gets_one_create_per_job_from_xml():
    s = settings(
        {"clearsessions": CLEAR, "mail-queue": {"command": "send_queued", "schedule": "every 5 minutes"}}
    )
    steps = plan_register(s, SCHTASKS, JobsState())
    assert [step.argv[1:5] for step in steps] == [
        ("/Create", "/TN", "\\my_site\\clearsessions", "/XML"),
        ("/Create", "/TN", "\\my_site\\mail-queue", "/XML"),
    ]
    assert all(step.argv[-1] == "/F" for step in steps)
    assert steps[0].argv[5] == str(ROOT / ".scheduled-tasks" / "clearsessions.xml")
    assert "daily 03:00, as NT AUTHORITY\\LOCAL SERVICE" in steps[0].why


def test_registered_tasks_plan_nothing_and_a_changed_one_is_replaced():
    s = settings()
    assert plan_register(s, SCHTASKS, registered(s)) == []
    later = settings({"clearsessions": {**CLEAR, "schedule": "daily 04:30"}})
    (step,) = plan_register(later, SCHTASKS, registered(s))
    assert step.argv[1] == "/Create" and "schedule 'daily 03:00' -> 'daily 04:30'" in step.why


def test_a_task_of_that_name_on_another_folder_is_refused_not_replaced():
    s = settings()
    other = settings()
    theirs = summary(parse(definition(other, other.jobs, other.jobs.jobs[0]).replace(
        str(ROOT).encode("utf-16-le"), r"D:\other".encode("utf-16-le"))))  # fmt: skip
    assert theirs.working_directory == r"D:\other"
    state = JobsState({"\\my_site\\clearsessions": theirs})
    with pytest.raises(Refusal, match=r"runs in D:\\other, not in this project"):
        plan_register(s, SCHTASKS, state)
    assert plan_unregister(s, SCHTASKS, state) == [], "another project's task is never deleted"
    with pytest.raises(Refusal, match="not this project's"):
        plan_run(s, SCHTASKS, state, "clearsessions")


def test_a_dropped_job_is_deleted_and_unregister_deletes_ours():
    s = settings({"clearsessions": CLEAR, "old": {"command": "old", "schedule": "at startup"}})
    state = registered(s)
    fewer = settings()
    (step,) = plan_register(fewer, SCHTASKS, state)
    assert step.argv == (SCHTASKS, "/Delete", "/TN", "\\my_site\\old", "/F")
    assert [step.argv[1] for step in plan_unregister(s, SCHTASKS, state)] == ["/Delete", "/Delete"]


def test_run_starts_a_registered_job_and_refuses_unknown_or_unregistered():
    s = settings()
    assert plan_run(s, SCHTASKS, registered(s), "ClearSessions")[0].argv == (
        SCHTASKS, "/Run", "/TN", "\\my_site\\clearsessions",
    )  # fmt: skip
    with pytest.raises(Refusal, match="no job named 'nope'"):
        plan_run(s, SCHTASKS, registered(s), "nope")
    with pytest.raises(Refusal, match="is not registered"):
        plan_run(s, SCHTASKS, JobsState(), "clearsessions")


def test_task_xml_holds_every_setting_explicitly():
    job = {"command": "clearsessions", "args": "--a 'b c' d&e<f>", "schedule": "every 15 minutes"}
    s = settings({"x": {**job, "time_limit": "600"}})
    data = definition(s, s.jobs, s.jobs.jobs[0])
    assert data.startswith(b"\xff\xfe") and "encoding='utf-16'" in data.decode("utf-16").splitlines()[0]
    task = parse(data)
    text = {el.tag.replace(NS, "").strip("{}"): (el.text or "") for el in task.iter()}
    assert text["UserId"] == "S-1-5-19" and text["RunLevel"] == "LeastPrivilege"
    assert text["MultipleInstancesPolicy"] == "IgnoreNew" and text["ExecutionTimeLimit"] == "PT11M"
    assert text["Interval"] == "PT15M" and text["WorkingDirectory"] == str(ROOT)
    assert text["Command"] == venv_python(ROOT)
    # The arguments are one Windows command line; split back the C-runtime way they are the argv.
    assert text["Arguments"] == subprocess.list2cmdline(
        ["-m", "iishost.jobs.run", "--time-limit", "600", "--", "clearsessions", "--a", "b c", "d&e<f>"]
    )
    assert summary(task).schedule == "every 15 minutes"


def test_exported_spelling_compares_equal():
    """Task Scheduler may export the account by name, durations in other units, elements reordered."""
    s = settings()
    exported = definition(s, s.jobs, s.jobs.jobs[0]).decode("utf-16")
    exported = exported.replace("<UserId>S-1-5-19</UserId>", "<UserId>NT AUTHORITY\\LOCAL SERVICE</UserId>")
    exported = exported.replace("<ExecutionTimeLimit>PT1H1M</ExecutionTimeLimit>",
                                "<ExecutionTimeLimit>PT3660S</ExecutionTimeLimit>")  # fmt: skip
    assert "PT3660S" in exported
    assert plan_register(s, SCHTASKS, JobsState({"\\my_site\\clearsessions": summary(parse(exported))})) == []


@pytest.mark.parametrize("seconds", [0, 59, 60, 3600, 3661, 86400, 90061])
def test_durations_round_trip(seconds):
    assert seconds_of(duration(seconds)) == seconds


@pytest.mark.parametrize(
    ("scheduled", "message"),
    [
        ({"a\\b": CLEAR}, "not a usable job name"),
        ({'a"b': CLEAR}, "not a usable job name"),
        ({"--all": CLEAR}, "not a usable job name"),
        ({"x": {**CLEAR, "command": "clear sessions"}}, "must be a manage.py command name"),
        ({"x": {**CLEAR, "args": "--path %TEMP%"}}, "Task Scheduler expands %VARIABLES%"),
        ({"x": {**CLEAR, "args": 'a"b'}}, "No closing quotation"),
        ({"x": {**CLEAR, "schedule": "hourly"}}, '"daily HH:MM"'),
        ({"x": {**CLEAR, "schedule": "daily 24:00"}}, '"daily HH:MM"'),
        ({"x": {**CLEAR, "schedule": "every 0 minutes"}}, '"every N minutes"'),
        ({"x": {**CLEAR, "time_limit": "1h"}}, "whole seconds"),
        ({"x": {**CLEAR, "when": "now"}}, "unknown key"),
        ({"x": {"command": "clearsessions"}}, "schedule is missing"),
        ({"a": CLEAR, "A": CLEAR}, "differ only in case"),
    ],
)
def test_bad_jobs_are_named_with_the_fix(scheduled, message):
    with pytest.raises(SettingsError, match=message):
        settings(scheduled)


def test_bad_folder_and_unknown_jobs_setting():
    with pytest.raises(SettingsError, match="jobs.folder"):
        settings(folder="a\\b")
    config = {"project": {"slug": "s"}, "iis": {"site_name": "s", "app_pool": "s"}, "jobs": {"folders": "x"}}
    with pytest.raises(SettingsError, match="unknown setting"):
        from_config(config, ROOT)


def test_schedules_parse_in_every_documented_form():
    assert str(parse_schedule(" Daily  7:05".replace("7", "07"), "s")) == "daily 07:05"
    assert str(parse_schedule("every 1 minute", "s")) == "every 1 minute"
    assert str(parse_schedule("AT STARTUP", "s")) == "at startup"


def test_no_jobs_section_plans_nothing():
    config = {"project": {"slug": "s"}, "iis": {"site_name": "s", "app_pool": "s"}}
    s = from_config(config, ROOT)
    assert s.jobs is None and plan_register(s, SCHTASKS, JobsState()) == []


def test_schtasks_csv_list_is_read_and_filtered_by_folder():
    output = '"\\my_site\\clearsessions","N/A","Ready"\n"\\Microsoft\\Windows\\Defrag\\x","N/A","Ready"\n\n'
    paths = list_tasks(SCHTASKS, lambda argv: Result(0, output.encode()))
    assert paths == ["\\my_site\\clearsessions", "\\Microsoft\\Windows\\Defrag\\x"]
    assert [p for p in paths if in_folder(p, "MY_SITE")] == ["\\my_site\\clearsessions"]
    assert not in_folder("\\my_site\\sub\\x", "my_site")


def test_acl_plan_gives_the_jobs_account_read_and_modify_on_logs_and_data_only():
    s = settings()
    steps = plan_grants(s, "icacls.exe", r"C:\Python313", AclState())
    jobs = [step.argv[1:] for step in steps if JOBS_IDENTITY in step.argv[3]]
    assert jobs == [
        (str(ROOT), "/grant:r", f"{JOBS_IDENTITY}:(OI)(CI)RX"),
        (str(ROOT / ".venv"), "/grant:r", f"{JOBS_IDENTITY}:(OI)(CI)RX"),
        (str(ROOT / "logs"), "/grant:r", f"{JOBS_IDENTITY}:(OI)(CI)M"),
        (str(ROOT / "data"), "/grant:r", f"{JOBS_IDENTITY}:(OI)(CI)M"),
    ]
    assert not [step for step in steps if JOBS_IDENTITY in step.argv[3] and "Python313" in step.argv[1]]
    granted = AclState({
        path: parse_icacls(path, f"{path} {JOBS_IDENTITY}:(OI)(CI)({rights})\n" +
                           f"    IIS APPPOOL\\my_site:(OI)(CI)({rights})")
        for path, rights in [(str(ROOT), "RX"), (str(ROOT / ".venv"), "RX"), (str(ROOT / "logs"), "M"),
                             (str(ROOT / "data"), "M"), (r"C:\Python313", "RX"), (str(ROOT / "media"), "M")]
    })  # fmt: skip
    assert plan_grants(s, "icacls.exe", r"C:\Python313", granted) == []
    postgres = settings(database="postgresql")
    assert not [st for st in plan_grants(postgres, "i", "h", AclState()) if st.argv[1].endswith("data")]


def test_build_escapes_paths_with_xml_characters():
    s = from_config(
        {"project": {"slug": "s"}, "iis": {"site_name": "s", "app_pool": "s"},
         "jobs": {"scheduled": {"c": CLEAR}}},
        Path(r"C:\sites\a & <b> \"q\""),
    )  # fmt: skip
    task = ET.fromstring(definition(s, s.jobs, s.jobs.jobs[0]).decode("utf-16").split("?>", 1)[1])
    assert summary(task).working_directory == r"C:\sites\a & <b> \"q\""
    assert s.jobs.folder == "s", "the folder defaults to the project slug"
