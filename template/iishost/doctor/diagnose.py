"""The diagnosis texts, one source for `invoke doctor`, `invoke deploy`'s failure report and the
emulator's 500.19 and 502.3 pages: each takes what is known about a failure and returns
(what was found, the fix). Pure: no I/O, so the emulator can call it per failure."""

from __future__ import annotations

import re

TRACEBACK = "Traceback (most recent call last):"
# iishost.launch's first line in HPH's stdout log: where the process's own output went.
LAUNCH_POINTER = re.compile(r"iishost\.launch: process \d+ writes its output to (?P<path>.+?)\s*$", re.M)
FRAMES_SHOWN = 3
TAIL_LINES = 10
RECYCLE = "then `invoke iis.recycle` (or the next request starts it again)"


def traceback_lines(text: str, frames: int = FRAMES_SHOWN) -> list[str]:
    """The last Python traceback in `text`, shortened to its last `frames` frames (each `File ...`
    line with its source line) and the exception line; [] when the text holds none."""
    start = text.rfind(TRACEBACK)
    if start < 0:
        return []
    lines = text[start:].splitlines()[1:]
    entries: list[list[str]] = []
    exception = ""
    for line in lines:
        if line.startswith("  File "):
            entries.append([line.strip()])
        elif line.startswith("    ") and entries:
            entries[-1].append("  " + line.strip())  # the source line, under its File line
        elif line.strip() and not line.startswith(" "):
            exception = line.strip()
            break
    shown = [part for entry in entries[-frames:] for part in entry]
    return [*shown, exception] if exception else shown


def exception_line(text: str) -> str:
    """The exception of the last traceback in `text` (`ModuleNotFoundError: No module named 'x'`)."""
    found = traceback_lines(text, frames=0)
    return found[-1] if found else ""


def launch_log(text: str) -> str:
    """The log iishost.launch named in HPH's stdout log, or ""."""
    found = LAUNCH_POINTER.findall(text)
    return found[-1] if found else ""


def tail(text: str, lines: int = TAIL_LINES) -> list[str]:
    return [line for line in text.splitlines() if line.strip()][-lines:]


def output_summary(text: str) -> list[str]:
    """What to show of a backend's output: its traceback if it has one, else its last lines."""
    return traceback_lines(text) or tail(text)


def crashed(exit_code: int, output: str) -> tuple[str, str]:
    shown = output_summary(output)
    error = exception_line(output)
    detail = f"crashed (exit code {exit_code}) before listening on HTTP_PLATFORM_PORT" + (
        ", last lines of its output:\n" + "\n".join(f"      {line}" for line in shown) if shown else
        ", with no output"
    )  # fmt: skip
    fix = (
        f"fix what the traceback names ({error})" if error
        else "run the same command by hand in the site folder to see why it exits"
    ) + f"; {RECYCLE}"  # fmt: skip
    return detail, fix


def failing_requests(status: int, output: str) -> tuple[str, str]:
    """The process started but answers 5xx: an error at the first request (the URLconf, a view's
    import, a middleware), which IIS shows as that status on every page."""
    shown = output_summary(output)
    error = exception_line(output)
    detail = f"started, but GET /health/ answered {status}" + (
        ", the error logged:\n" + "\n".join(f"      {line}" for line in shown) if shown else ""
    )
    fix = (
        f"fix what the traceback names ({error})" if error
        else "see logs\\django.log for the error (or `manage.py check`)"
    ) + f"; {RECYCLE}"  # fmt: skip
    return detail, fix


def not_listening(port: int, others: list[int]) -> tuple[str, str]:
    instead = f" (listening on {', '.join(map(str, others))} instead?)" if others else ""
    return (
        f"is running but does not listen on HTTP_PLATFORM_PORT ({port}){instead}",
        "listen on the port HttpPlatformHandler passes: `--port %HTTP_PLATFORM_PORT%` in web.config's "
        "arguments (HPH connects to that port only, on 127.0.0.1; a fixed port is 502.3)",
    )


def too_slow(limit: int, output: str = "") -> tuple[str, str]:
    shown = tail(output, 5)
    detail = f"slower than startupTimeLimit ({limit} s): no HTTP answer on HTTP_PLATFORM_PORT in time" + (
        ", last lines of its output:\n" + "\n".join(f"      {line}" for line in shown) if shown else ""
    )
    return detail, (
        "make the startup faster (work done at import time, a database or service that does not answer), "
        f'or raise startupTimeLimit="{limit}" in web.config (at most 3600); {RECYCLE}'
    )


def cannot_start(program: str, error: str) -> tuple[str, str]:
    return (
        f"cannot start processPath {program}: {error}",
        'point processPath at the venv\'s interpreter: processPath=".\\.venv\\Scripts\\python.exe" (relative '
        "to the site folder; `py bootstrap.py` makes the venv), or take the template's web.config",
    )


_UNRECOGNIZED = re.compile(
    r'^(?:HttpPlatformHandler (?P<build>[\d.]+): )?unrecognized (?P<kind>attribute|element) "(?P<name>[^"]+)"'
)
# What a build lacks and what to do instead (iishost/emulator/hph_schemas.py, iis-facts.md).
INSTEAD = {
    "startupRetryCount": "v2 has no startupRetryCount: it tries a start twice on its own",
    "handlerSettings": "only v2 has <handlerSettings>",
}


def config_fix(reasons: list[str], build: str | None) -> str:
    """The fix for web.config reasons IIS would answer 500.19 for (webconfig.ConfigError.reasons),
    under `build` ("1.2", "2", or None when checked against both)."""
    fixes = []
    for reason in reasons:
        match = _UNRECOGNIZED.match(reason)
        if not match:
            continue
        lacking = match["build"] or build or "1.2 or v2"
        what = "attribute" if match["kind"] == "attribute" else "element"
        note = INSTEAD.get(match["name"], "")
        fixes.append(
            f"remove the {what} {match['name']} from <httpPlatform> in web.config: HttpPlatformHandler "
            f"{lacking}'s schema does not define it" + (f" ({note})" if note else "")
        )
    if len(fixes) < len(reasons):
        fixes.append("correct the values named above (each build's ranges: iishost/emulator/hph_schemas.py)")
    return "; ".join(fixes) + "; or take the template's web.config (`invoke template-update`)"
