"""`python -m iishost.emulator --site-root . --port 8000`: serve the site as IIS would."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from pathlib import Path

from iishost.winauth.emulated import WINDOWS_USER

from . import webconfig
from .site import Emulator, PortInUse


async def serve(
    site_root: Path,
    host: str,
    port: int,
    builds: tuple[str, ...] = webconfig.BUILDS,
    windows_user: str | None = None,
    recycle_signal: Path | None = None,
) -> None:
    emulator = Emulator(
        site_root, hph_builds=builds, windows_user=windows_user, recycle_signal=recycle_signal
    )
    stop = asyncio.Event()
    if sys.platform != "win32":  # on Windows Ctrl-C arrives as KeyboardInterrupt
        for signum in (signal.SIGINT, signal.SIGTERM):
            asyncio.get_running_loop().add_signal_handler(signum, stop.set)
    bound = await emulator.start(host, port)
    if emulator.state.error:
        print(f"emulator: every request will answer {emulator.state.error}", file=sys.stderr)
    print(f"IIS emulator: {emulator.site_root} at http://{host}:{bound}/ (Ctrl-C stops it)", flush=True)
    if windows_user:
        platform = emulator.state.platform
        forwards = platform is not None and platform.forward_windows_auth_token
        print(
            f"IIS emulator: Windows sign-in, every request as {windows_user}"
            + (
                ""
                if forwards
                else "; web.config's forwardWindowsAuthToken is false: the app will not see the user"
            ),
            flush=True,
        )
    try:
        await stop.wait()
    finally:
        await emulator.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m iishost.emulator", description=__doc__)
    parser.add_argument("--site-root", type=Path, default=Path("."), help="folder holding web.config")
    parser.add_argument("--port", type=int, default=8000, help="port on 127.0.0.1 (default 8000)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument(
        "--hph",
        choices=[*webconfig.BUILDS, "both"],
        default="both",
        help="the HttpPlatformHandler build whose schema web.config must satisfy (default: both)",
    )
    parser.add_argument(
        "--windows-user",
        default="",
        help='Windows sign-in mode: every request signed in as this user, e.g. "CONTOSO\\alice"',
    )
    parser.add_argument(
        "--recycle-signal",
        type=Path,
        default=None,
        help="a file whose change recycles the app pool (restarts the backends), e.g. the fake appcmd's "
        "$FAKE_IIS_DIR/recycled.log, so code a deploy checked out is served as IIS would serve it",
    )
    args = parser.parse_args(argv)
    if args.windows_user and not WINDOWS_USER.fullmatch(args.windows_user):
        parser.error(f'--windows-user {args.windows_user!r}: give DOMAIN\\name, e.g. "CONTOSO\\alice"')
    if not (args.site_root / "web.config").is_file():
        parser.error(f"{args.site_root.resolve()} has no web.config: give the site's folder with --site-root")
    builds = webconfig.BUILDS if args.hph == "both" else (args.hph,)
    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(
                serve(
                    args.site_root,
                    args.host,
                    args.port,
                    builds,
                    args.windows_user or None,
                    args.recycle_signal,
                )
            )
    except PortInUse as exc:
        sys.exit(f"IIS emulator: {exc.strerror}")


if __name__ == "__main__":
    main()
