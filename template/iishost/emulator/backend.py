"""HttpPlatformHandler's process management: launch, readiness, retries, crashes, logs, stop.

Each behaviour follows iishost/docs/emulator.md, which names its source (HttpPlatformHandler's
configuration reference, or the open-source ASP.NET Core Module, HPH's fork, where HPH is silent).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from pathlib import Path

from iishost.doctor import diagnose, ports
from iishost.winauth.emulated import RESERVED

from .webconfig import HttpPlatform

PORT_RANGE = (1025, 48000)  # ANCM picks the backend's port at random in this range
PR_SET_PDEATHSIG = 1  # linux/prctl.h


def die_with_parent(signum: int = signal.SIGKILL) -> Callable[[], None] | None:
    """A preexec_fn that has Linux send `signum` to the child when the process that started it
    dies, however it dies (prctl PR_SET_PDEATHSIG). On IIS the backends die with the worker process
    because HPH puts them in a Job object that kills its processes when its last handle closes
    (serverprocess.cpp: JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE); this is the nearest POSIX has. None
    where there is no prctl (Windows, macOS): there a SIGKILLed emulator leaves its backends."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    parent = os.getpid()

    def preexec() -> None:
        libc.prctl(PR_SET_PDEATHSIG, signum, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return preexec


EMULATOR_ONLY = set(RESERVED)  # iishost.winauth.emulated: never from web.config or the environment


class BackendUnavailable(Exception):
    """No process can serve the request: IIS answers 502.3 (the message says why, `fix` what to do:
    the diagnosis `invoke doctor` gives for the same cause)."""

    def __init__(self, message: str, fix: str = "", diagnosis: str = ""):
        super().__init__(message)
        self.fix, self.diagnosis = fix, diagnosis


def expand(value: str, env: Mapping[str, str]) -> str:
    """%NAME% expanded like Windows' ExpandEnvironmentStrings: names are case-insensitive and an
    unknown name stays as written."""
    names = {key.upper(): item for key, item in env.items()}
    return re.sub(r"%([^%]+)%", lambda m: names.get(m.group(1).upper(), m.group(0)), value)


def resolve(raw: str, site_root: Path) -> Path:
    r"""A configured path as a real one: a path starting with `.` is relative to the site root
    (HPH 1.2), `\` separators work on POSIX, and a venv's `Scripts\X.exe` (the Windows layout)
    is `bin/X` on POSIX, so the same web.config runs on Windows and in CI."""
    if raw.startswith("."):
        path = site_root.joinpath(*[p for p in re.split(r"[\\/]", raw) if p not in ("", ".")])
    else:
        path = Path(raw if os.name == "nt" else raw.replace("\\", "/"))
    if os.name != "nt" and path.parent.name.lower() == "scripts" and path.suffix.lower() == ".exe":
        posix = path.parent.parent / "bin" / path.stem
        if posix.exists() or not path.exists():
            return posix
    return path


def split_arguments(line: str) -> list[str]:
    """`arguments` split the way the backend's C runtime splits the command line CreateProcess
    gives it: mslex applies the UCRT's rules (Microsoft, "Parsing C command-line arguments": blanks
    separate, double quotes group, `""` inside quotes is a quote, backslashes are literal except
    before a quote). POSIX shell rules would eat the backslashes of Windows paths."""
    import mslex  # the development set's (the emulator's); a server's doctor uses command_line

    return mslex.split(line, like_cmd=False, ucrt=True)


def environment(
    platform: HttpPlatform, environ: Mapping[str, str], port: int, warn: Callable[[str], None]
) -> dict[str, str]:
    """The backend's environment as HPH builds it: the worker's, HTTP_PLATFORM_PORT, then web.config's
    environmentVariables with %VAR% expanded (never the emulator's own variables)."""
    env = {k: v for k, v in environ.items() if k not in EMULATOR_ONLY}
    env["HTTP_PLATFORM_PORT"] = str(port)
    for name, value in platform.environment_variables.items():
        if name.upper() in EMULATOR_ONLY:
            warn(f"web.config: environment variable {name} is the emulator's own; ignored")
            continue
        env[name] = expand(value, env)
    return env


def command(platform: HttpPlatform, env: Mapping[str, str], site_root: Path) -> list[str]:
    """processPath and arguments, expanded and split as HPH's CreateProcess call sees them."""
    program = resolve(expand(platform.process_path, env), site_root)
    return [str(program), *split_arguments(expand(platform.arguments, env))]


def command_line(platform: HttpPlatform, env: Mapping[str, str], site_root: Path) -> str:
    """The command line HPH hands CreateProcess: the quoted processPath, then arguments as written
    (expanded); the program's C runtime splits it. What Windows runs without splitting it here."""
    program = resolve(expand(platform.process_path, env), site_root)
    return subprocess.list2cmdline([str(program)]) + " " + expand(platform.arguments, env)


def free_port() -> int:
    """A port nobody listens on, at random in ANCM's range (HPH passes it as HTTP_PLATFORM_PORT)."""
    for _ in range(200):
        port = random.randint(*PORT_RANGE)  # noqa: S311 (not security)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise BackendUnavailable("no free port on 127.0.0.1")


def log_file_name(prefix: Path, pid: int, when: datetime, build: str = "1.2") -> Path:
    """The stdout log's name; `pid` is the IIS worker process's (shared by all its backends), `when`
    UTC (GetSystemTime). HPH 1.2: `<prefix>_<pid>_<Y><M><D><h><m><s>.log`, fields not zero-padded
    (HPH event 1004 messages; ANCM v1). v2: `<prefix>_<YYYYMMDDhhmmss>_<pid>.log` (serverprocess.cpp,
    "%s_%d%02d%02d%02d%02d%02d_%d.log")."""
    if build == "2":
        return prefix.with_name(f"{prefix.name}_{when:%Y%m%d%H%M%S}_{pid}.log")
    stamp = f"{when.year}{when.month}{when.day}{when.hour}{when.minute}{when.second}"
    return prefix.with_name(f"{prefix.name}_{pid}_{stamp}.log")


class Backend:
    """One running backend process with its port and stdout log."""

    def __init__(self, process: asyncio.subprocess.Process, port: int, log: Path | None):
        self.process, self.port, self.log = process, port, log
        self.stopping = False
        self._pump: asyncio.Task | None = None

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def alive(self) -> bool:
        return self.process.returncode is None

    def kill_tree(self, force: bool) -> None:
        """Signal the process and every descendant. HPH puts the child in a Job object that kills
        the whole tree (ANCM); here the child leads its own process group (POSIX) or console
        process group (Windows), and a graceful stop is Ctrl-Break there, as ANCM sends."""
        if os.name == "nt":
            if force:
                subprocess.run(["taskkill", "/F", "/T", "/PID", str(self.pid)], capture_output=True)
            elif self.alive:
                with contextlib.suppress(OSError):
                    self.process.send_signal(signal.CTRL_BREAK_EVENT)
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL if force else signal.SIGTERM)

    async def stop(self, grace: float) -> None:
        """Ctrl-Break (SIGTERM), then the whole tree is terminated after `grace` seconds."""
        self.stopping = True
        self.kill_tree(force=False)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.process.wait(), grace)
        self.kill_tree(force=True)
        await self.process.wait()
        if self._pump:
            await self._pump


class ProcessPool:
    """The `processesPerApplication` processes of one site, started on demand, round-robin.

    A dead process is replaced on the next request; launches and crashes are failures, and past
    `rapidFailsPerMinute` failures in the last 60 seconds no process is started until older ones
    age out (configuration reference: "crashes per minute tolerated before the module stops
    restarting")."""

    def __init__(
        self,
        platform: HttpPlatform,
        site_root: Path,
        environ: Mapping[str, str] | None = None,
        *,
        stop_grace: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        warn: Callable[[str], None] = lambda message: print(message, file=sys.stderr, flush=True),
        own: Mapping[str, str] | None = None,
    ):
        self.platform, self.site_root = platform, Path(site_root)
        self.environ = dict(os.environ if environ is None else environ)
        # The emulator's own variables for its processes (the Windows sign-in stand-in's key): set
        # last, so neither the environment nor web.config can give or change them.
        self.own = dict(own or {})
        self.stop_grace, self.clock, self.warn = stop_grace, clock, warn
        count = platform.processes_per_application
        self.slots: list[Backend | None] = [None] * count
        self._locks = [asyncio.Lock() for _ in range(count)]
        self._next = 0
        self.failures: collections.deque[float] = collections.deque()
        self.launched: list[int] = []  # pid of every process started, in order
        self.open_logs: set[Path] = set()  # stdout logs a live process of this pool holds open

    def _record_failure(self) -> None:
        self.failures.append(self.clock())

    def _blocked(self) -> bool:
        while self.failures and self.clock() - self.failures[0] >= 60:
            self.failures.popleft()
        return len(self.failures) > self.platform.rapid_fails_per_minute

    async def acquire(self) -> Backend:
        """The next process in round-robin order, started first if it is not running."""
        index = self._next
        self._next = (self._next + 1) % len(self.slots)
        async with self._locks[index]:
            backend = self.slots[index]
            if backend is not None and backend.alive:
                return backend
            if self._blocked():
                raise BackendUnavailable(
                    f"more than rapidFailsPerMinute={self.platform.rapid_fails_per_minute} process "
                    "failures in the last minute: not restarting it until the minute is over"
                )
            reasons, last = [], None
            for _attempt in range(max(1, self.platform.startup_retry_count)):
                try:
                    self.slots[index] = await self._launch()
                    return self.slots[index]
                except BackendUnavailable as exc:
                    self._record_failure()
                    reasons.append(str(exc))
                    last = exc
                    if self._blocked():
                        break
            raise BackendUnavailable(
                "; ".join(reasons), last.fix if last else "", last.diagnosis if last else ""
            )

    def _environment(self, port: int) -> dict[str, str]:
        return {**environment(self.platform, self.environ, port, self.warn), **self.own}

    def _log_prefix(self, env: Mapping[str, str]) -> Path | None:
        if not self.platform.stdout_log_enabled:
            return None
        prefix = resolve(expand(self.platform.stdout_log_file, env), self.site_root)
        if not prefix.parent.is_dir():
            # HPH logs event 1004 (0x80070003, path not found) and starts the process without a log.
            self.warn(
                f"HttpPlatformHandler: cannot create the stdout log {prefix}_*: its folder does not exist"
            )
            return None
        return prefix

    async def _launch(self) -> Backend:
        """Start one process and wait until it listens on its port within startupTimeLimit."""
        port = free_port()
        env = self._environment(port)
        argv = command(self.platform, env, self.site_root)
        prefix = self._log_prefix(env)
        group = (
            {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}
            if os.name == "nt"
            else {"start_new_session": True, "preexec_fn": die_with_parent()}
        )
        try:
            process = await asyncio.create_subprocess_exec(
                *argv,
                cwd=self.site_root,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE if prefix else subprocess.DEVNULL,
                stderr=subprocess.STDOUT,
                **group,
            )
        except OSError as exc:
            raise BackendUnavailable(
                f"cannot start {argv[0]}: {exc}", *diagnose.cannot_start(argv[0], str(exc))[::-1]
            ) from exc
        self.launched.append(process.pid)
        log = self._claim_log(prefix)
        backend = Backend(process, port, log)
        if log:
            backend._pump = asyncio.ensure_future(self._copy_output(process.stdout, log))
        elif prefix:
            backend._pump = asyncio.ensure_future(_discard(process.stdout))
        asyncio.ensure_future(self._watch(backend))
        if await self._wait_listening(backend):
            return backend
        exited = backend.process.returncode
        elsewhere = [] if exited is not None else self._ports_instead(backend)
        await backend.stop(grace=0)
        output = self._output(backend)
        if exited is not None:
            detail, fix = diagnose.crashed(exited, output)
            raise BackendUnavailable(
                f"the process exited with code {exited} before listening on port {port}", fix, detail
            )
        if elsewhere:
            detail, fix = diagnose.not_listening(port, elsewhere)
        else:
            detail, fix = diagnose.too_slow(self.platform.startup_time_limit, output)
        raise BackendUnavailable(
            f"the process did not listen on port {port} within startupTimeLimit="
            f"{self.platform.startup_time_limit}s; it was stopped",
            fix,
            detail,
        )

    @staticmethod
    def _ports_instead(backend: Backend) -> list[int]:
        """Where a process that missed its port listens instead (Linux /proc; [] where unknown)."""
        found = ports.listeners(None, None)
        return [p for p in ports.ports_of(backend.pid, {}, found) if p != backend.port] if found else []

    def _output(self, backend: Backend) -> str:
        """What the failed process wrote: its stdout log, and the log iishost.launch named in it."""
        text = backend.log.read_text(encoding="utf-8", errors="replace") if backend.log else ""
        launched = diagnose.launch_log(text)
        if launched and Path(launched).is_file():
            text += Path(launched).read_text(encoding="utf-8", errors="replace")
        return text

    def _claim_log(self, prefix: Path | None) -> Path | None:
        """The log this process gets. The name has the worker's pid and the time to the second,
        and HPH opens it for writing with read sharing only (CreateFileW, FILE_SHARE_READ,
        CREATE_ALWAYS: serverprocess.cpp): while another process holds the same name, this one
        gets no stdout at all (event 1004); a name no process holds is truncated."""
        if prefix is None:
            return None
        worker = os.getpid()  # the emulator stands for w3wp.exe
        log = log_file_name(prefix, worker, datetime.now(timezone.utc), self.platform.build)
        if log in self.open_logs:
            self.warn(
                f"HttpPlatformHandler: cannot open the stdout log {log}: another process of this "
                "application has it open (same worker pid, same second); this process runs without one"
            )
            return None
        self.open_logs.add(log)
        log.write_bytes(b"")
        return log

    async def _copy_output(self, stream: asyncio.StreamReader, log: Path) -> None:
        """stdout and stderr of the process, as they come, into its log file (held until it ends)."""
        try:
            with open(log, "ab", buffering=0) as out:
                while chunk := await stream.read(65536):
                    out.write(chunk)
        finally:
            self.open_logs.discard(log)

    async def _wait_listening(self, backend: Backend) -> bool:
        deadline = self.clock() + self.platform.startup_time_limit
        while backend.alive:
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", backend.port)
            except OSError:
                if self.clock() >= deadline:
                    return False
                await asyncio.sleep(0.05)
                continue
            writer.close()
            return backend.alive
        return False

    async def _watch(self, backend: Backend) -> None:
        """A process that exits on its own is a crash: its tree goes too, the next request starts
        a new one."""
        await backend.process.wait()
        if not backend.stopping:
            self._record_failure()
            backend.kill_tree(force=True)

    async def stop_all(self) -> None:
        """Stop every process tree (app-pool recycle or shutdown)."""
        backends = [b for b in self.slots if b is not None]
        self.slots = [None] * len(self.slots)
        await asyncio.gather(*(b.stop(self.stop_grace) for b in backends))


async def _discard(stream: asyncio.StreamReader) -> None:
    """A process whose log could not be opened writes into nothing (HPH gives it no handle)."""
    while await stream.read(65536):
        pass
