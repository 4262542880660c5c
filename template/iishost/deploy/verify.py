"""After a deploy: does the site answer 200 through IIS within a time limit? If not, say where to look."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from pathlib import Path


def newest_stdout_log(root: Path) -> Path | None:
    """The newest log holding a backend's startup output: iishost.launch's own
    logs/uvicorn_<time>_<pid>.log (one per process, the traceback is there), else HttpPlatformHandler's
    logs/httpplatform-stdout_*.log (which, since iishost.launch, only points to the former)."""
    for pattern in ("uvicorn_*.log", "httpplatform-stdout*.log"):
        logs = sorted((root / "logs").glob(pattern), key=lambda p: p.stat().st_mtime)
        if logs:
            return logs[-1]
    return None


def wait_for_200(url: str, timeout: float, interval: float = 1.0) -> tuple[bool, str]:
    """Poll `url` until it answers 200 or `timeout` seconds pass; (ok, last status or error)."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while True:
        try:
            with urllib.request.urlopen(url, timeout=min(10.0, max(timeout, 1.0))) as response:  # noqa: S310
                if response.status == 200:
                    return True, "200 OK"
                last = f"HTTP {response.status}"
        except urllib.error.HTTPError as exc:
            last = f"HTTP {exc.code} {exc.reason}"
            offered = {
                v.split()[0].lower() for v in exc.headers.get_all("WWW-Authenticate") or [] if v.split()
            }
            if exc.code == 401 and offered & {"negotiate", "ntlm"}:
                last += f" ({WINDOWS_SIGN_IN})"
        except (urllib.error.URLError, OSError) as exc:
            last = f"{getattr(exc, 'reason', exc)}"
        if time.monotonic() + interval > deadline:
            return False, last
        time.sleep(interval)


WINDOWS_SIGN_IN = "IIS asks for Windows sign-in"


def failure_message(
    url: str, timeout: float, last: str, root: Path, findings: list[str] | None = None
) -> str:
    """Where to look, and `findings`: what `invoke doctor`'s log and trial-start checks found."""
    if WINDOWS_SIGN_IN in last:
        return (
            f"The site did not answer 200 at {url} within {timeout:g} s (last: {last}).\n"
            "IIS is up and wants Windows sign-in (iis.windows_auth), which this check cannot do yet: "
            "every step was applied. Check the app as a signed-in user: Invoke-WebRequest "
            f'{url} -UseDefaultCredentials (iishost/docs/intranet.md, "Windows sign-in").'
        )
    log = newest_stdout_log(root)
    where = (
        f"the newest stdout log: {log}"
        if log
        else f"logs\\uvicorn_*.log and logs\\httpplatform-stdout_*.log in {root / 'logs'} (none yet)"
    )
    return (
        f"The site did not answer 200 at {url} within {timeout:g} s (last: {last}).\n"
        f"Look at {where}; 502: the app did not start (Python errors are there), 500.19: web.config or "
        "the handlers unlock, 503: the app pool is stopped (Event Viewer, WAS)."
        + (
            "\n`invoke doctor`'s stdout-log and start checks found (`invoke doctor` runs all its checks):\n"
            + "\n".join(findings)
            if findings
            else ""
        )
    )
