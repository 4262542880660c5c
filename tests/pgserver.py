"""A throwaway PostgreSQL server for the tests: Debian's own binaries, a cluster in a temp folder,
listening on 127.0.0.1 only, stopped (pg_ctl, by its data folder) when the tests end.

initdb refuses to run as root, and CI runs as root: then the cluster belongs to the `postgres`
user (Debian's package creates it), or `nobody`, and its programs run through `runuser`.
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

SUPERUSER = "postgres"
APP_ROLE = "app"  # what the generated project connects as: may create databases (pytest-django's test_<name>)


def server_bin() -> Path | None:
    """The folder of the newest installed server (Debian: /usr/lib/postgresql/<major>/bin), or the one
    whose initdb is on PATH; None when there is no server here."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("initdb")
    return Path(on_path).parent if on_path else None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run_as_prefix() -> tuple[list[str], pwd.struct_passwd | None]:
    """(argv prefix, account) for running the server's programs: nothing when not root."""
    if os.geteuid() != 0:
        return [], None
    for name in ("postgres", "nobody"):
        try:
            account = pwd.getpwnam(name)
        except KeyError:
            continue
        return ["runuser", "-u", name, "--"], account
    raise RuntimeError("running as root, and no postgres or nobody account exists to own the cluster")


@dataclass
class PostgresServer:
    bin: Path
    folder: Path
    port: int
    superuser_password: str
    app_password: str
    prefix: list[str]

    @property
    def data(self) -> Path:
        return self.folder / "data"

    def url(self, database: str = APP_ROLE, **query: str) -> str:
        """DATABASE_URL for the app's role."""
        tail = "&".join(f"{k}={v}" for k, v in query.items())
        return f"postgres://{APP_ROLE}:{self.app_password}@127.0.0.1:{self.port}/{database}" + (
            f"?{tail}" if tail else ""
        )

    def sql(self, statement: str, database: str = "postgres") -> list[list[str]]:
        """Rows of `statement`, run as the superuser with psql (tuples only, fields split on |)."""
        result = subprocess.run(
            [self.bin / "psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
             "-h", "127.0.0.1", "-p", str(self.port), "-U", SUPERUSER, "-d", database, "-c", statement],
            env={**os.environ, "PGPASSWORD": self.superuser_password},
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        return [line.split("|") for line in result.stdout.splitlines() if line]

    def ctl(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*self.prefix, self.bin / "pg_ctl", "-D", self.data, *args],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip

    def stop(self) -> None:
        self.ctl("-m", "fast", "-w", "stop")
        shutil.rmtree(self.folder, ignore_errors=True)


def start(bin_folder: Path) -> PostgresServer:
    """initdb + pg_ctl start in a new temp folder; the app's role and database created."""
    prefix, account = run_as_prefix()
    # Not under pytest's tmp folder: that is private to root (0700), and the server runs as another user.
    folder = Path(tempfile.mkdtemp(prefix="pg-tests-"))
    server = PostgresServer(
        bin_folder, folder, free_port(), secrets.token_hex(16), secrets.token_hex(16), prefix
    )
    (folder / "sockets").mkdir()
    pwfile = folder / "superuser-password"
    pwfile.write_text(server.superuser_password + "\n")
    if account:
        for path in (folder, folder / "sockets", pwfile):
            os.chown(path, account.pw_uid, account.pw_gid)
    initdb = subprocess.run(
        [*prefix, bin_folder / "initdb", "-D", server.data, "-U", SUPERUSER, f"--pwfile={pwfile}",
         "--auth=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    if initdb.returncode:
        shutil.rmtree(folder, ignore_errors=True)
        raise RuntimeError(f"initdb failed:\n{initdb.stdout}{initdb.stderr}")
    pwfile.unlink()
    with open(server.data / "postgresql.conf", "a", encoding="utf-8") as conf:
        conf.write(
            f"\nlisten_addresses = '127.0.0.1'\nport = {server.port}\n"
            f"unix_socket_directories = '{folder / 'sockets'}'\nfsync = off\n"
        )
    started = server.ctl("-l", str(folder / "server.log"), "-w", "-t", "60", "start")
    if started.returncode:
        log = (folder / "server.log").read_text(errors="replace") if (folder / "server.log").exists() else ""
        server.stop()
        raise RuntimeError(f"pg_ctl start failed:\n{started.stdout}{started.stderr}{log}")
    server.sql(f"CREATE ROLE {APP_ROLE} LOGIN CREATEDB PASSWORD '{server.app_password}'")
    server.sql(f"CREATE DATABASE {APP_ROLE} OWNER {APP_ROLE}")
    return server
