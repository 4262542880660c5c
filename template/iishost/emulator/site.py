"""The IIS request pipeline for one site: configuration, request filtering, handler choice,
the static file handler, and HttpPlatformHandler in front of its processes.

iishost/docs/emulator.md lists each emulated behaviour with its source and what is not emulated.
"""

from __future__ import annotations

import asyncio
import errno
import html
import mimetypes
import os
import sys
import time
import traceback
import urllib.parse
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path

import aiohttp
from aiohttp import web

from iishost.doctor import diagnose
from iishost.winauth.emulated import EmulatedTokens

from . import webconfig
from .backend import BackendUnavailable, ProcessPool, expand, resolve
from .proxy import BACKEND_SERVER, BackendError, forward_http, forward_websocket

# IIS's own status pages: status.substatus -> title (IIS "HTTP status codes" reference).
TITLES = {
    "403.14": "Forbidden: directory listing is denied",
    "404.0": "Not Found",
    "404.3": "Not Found: no MIME map for this file extension, the static file handler will not serve it",
    "404.4": "Not Found: no handler is mapped for this request",
    "404.7": "Not Found: request filtering denies this file extension",
    "404.8": "Not Found: request filtering denies a hidden segment in the URL",
    "404.11": "Not Found: request filtering denies a double escape sequence in the URL",
    "404.12": "Not Found: request filtering denies high-bit characters in the URL",
    "404.13": "Not Found: the request content is longer than maxAllowedContentLength",
    "404.14": "Not Found: the URL is longer than maxUrl",
    "404.15": "Not Found: the query string is longer than maxQueryString",
    "405.0": "Method Not Allowed",
    "500.0": "Internal Server Error",
    "500.19": "Internal Server Error: the configuration data for the page is invalid",
    "502.3": "Bad Gateway: the backend did not answer",
}
BUILTIN_MIME = mimetypes.MimeTypes()  # Python's own table, not the OS's: same answer everywhere
# The Server header of what IIS answers itself, and of what http.sys refuses before IIS sees it.
IIS_SERVER = "Microsoft-IIS/10.0"
HTTPSYS_SERVER = "Microsoft-HTTPAPI/2.0"
# http.sys defaults (Microsoft, "Http.sys registry settings for Windows"): a path segment may have at
# most UrlSegmentMaxLength characters, and AllowRestrictedChars=0 refuses escaped characters that
# decode to U+0000-U+001F or U+007F-U+009F. Both answer 400 before IIS sees the request.
URL_SEGMENT_MAX_LENGTH = 260
RESTRICTED = {chr(c) for c in (*range(0x20), *range(0x7F, 0xA0))}
SERVER_KEY = web.ResponseKey("iis-server", str)  # a response's mapping key: the Server header to send
CUSTOM_HEADERS = web.RequestKey("iis-custom-headers", tuple)  # the folder's customHeaders


def iis_error(code: str, detail: str = "", diagnosis: str = "", fix: str = "") -> web.Response:
    """IIS's own error page for status.substatus (the page names the substatus, as IIS's does).
    `diagnosis` and `fix` are what `invoke doctor` says for the same cause (not on IIS's page)."""
    status = int(code.split(".")[0])
    body = f"<h1>HTTP Error {code} - {html.escape(TITLES[code])}</h1>"
    if detail:
        body += f"<p>{html.escape(detail)}</p>"
    if diagnosis:
        body += f"<h2>Diagnosis (invoke doctor)</h2><pre>{html.escape(diagnosis)}</pre>"
    if fix:
        body += f"<p>Fix: {html.escape(fix)}</p>"
    return web.Response(status=status, text=body, content_type="text/html", headers={"X-IIS-Substatus": code})


def httpsys_bad_request(reason: str) -> web.Response:
    """http.sys's answer to a URL it refuses: 400, its own page and Server header, connection closed."""
    body = "<h2>Bad Request - Invalid URL</h2><hr><p>HTTP Error 400. The request URL is invalid.</p>"
    response = web.Response(
        status=400,
        text=body,
        content_type="text/html",
        headers={"X-HTTPSYS-Reason": reason, "Connection": "close"},
    )
    response[SERVER_KEY] = HTTPSYS_SERVER
    return response


def _exists(check: Callable[[], bool]) -> bool:
    """A filesystem probe that treats a name the OS cannot hold (too long, NUL) as absent, as a
    file that cannot exist is absent on IIS too."""
    try:
        return check()
    except (OSError, ValueError):
        return False


async def _server_header(request: web.Request, response: web.StreamResponse) -> None:
    """IIS names itself on its own answers; a proxied answer keeps the backend's Server header or
    has none (forwardinghandler.cpp deletes Server when the backend sent none)."""
    proxied = BACKEND_SERVER in response
    server = response.get(BACKEND_SERVER) if proxied else response.get(SERVER_KEY, IIS_SERVER)
    if server:
        response.headers["Server"] = server
    else:
        response.headers.popall("Server", None)
    # customHeaders go on every answer of the folder, the application's too (iis-docs).
    for name, value in request.get(CUSTOM_HEADERS, ()):
        response.headers.add(name, value)


@web.middleware
async def _own_errors_as_iis(request: web.Request, handler) -> web.StreamResponse:
    """A fault in the emulator itself answers IIS's 500 page (and says so on stderr), never
    aiohttp's own; the traceback is the emulator's bug to fix, not the site's."""
    try:
        return await handler(request)
    except (ConnectionResetError, asyncio.CancelledError, web.HTTPException):
        raise
    except Exception:
        traceback.print_exc(file=sys.stderr)
        return iis_error("500.0", "the IIS emulator failed on this request (its traceback is on stderr)")


@dataclass
class SiteState:
    """What one version of the root web.config says; replaced when the file changes."""

    platform: webconfig.HttpPlatform | None
    root: webconfig.FolderConfig | None
    error: webconfig.ConfigError | None
    stamp: tuple


class Emulator:
    """IIS with HttpPlatformHandler, serving one site folder on 127.0.0.1.

    `request_timeout` overrides `requestTimeout` in seconds. It exists for tests only: the schema
    counts requestTimeout in whole minutes, and a test cannot wait minutes. `environ` is the
    environment the worker process would have (default: this process's), `clock` the time source
    for rapidFailsPerMinute, `watch_interval` how often recycleOnFileChange files and web.config
    are checked, `hph_builds` the HttpPlatformHandler builds whose schema web.config must satisfy
    ("1.2", "2"; default both: a web.config that loads here loads on either server).
    `recycle_signal` is a file whose change stands for IIS recycling the site's app pool (`appcmd
    recycle apppool`, which `invoke deploy` runs): the fake appcmd appends to its recycled.log.
    `windows_user` ("CONTOSO\\alice") is the Windows sign-in mode: IIS with Windows authentication
    and anonymous off, every request signed in as that user; HPH forwards a token for it when
    web.config's forwardWindowsAuthToken (default: the first build's) says so
    (iishost.winauth.emulated: a stand-in that works for this run's processes only)."""

    def __init__(
        self,
        site_root: Path | str,
        *,
        environ: Mapping[str, str] | None = None,
        request_timeout: float | None = None,
        stop_grace: float = 5.0,
        watch_interval: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
        hph_builds: tuple[str, ...] = webconfig.BUILDS,
        windows_user: str | None = None,
        recycle_signal: Path | str | None = None,
    ):
        self.hph_builds = tuple(hph_builds)
        self.tokens = EmulatedTokens.new_run(windows_user) if windows_user else None
        self.site_root = Path(site_root).resolve()
        self.environ = dict(os.environ if environ is None else environ)
        self.request_timeout, self.stop_grace = request_timeout, stop_grace
        self.watch_interval, self.clock = watch_interval, clock
        self.recycle_signal = Path(recycle_signal).resolve() if recycle_signal else None
        self._signal_stamp = self._stamp([self.recycle_signal]) if self.recycle_signal else ()
        self.state = self._load()
        self.pool = self._new_pool()
        self.recycles = 0
        self._folders: dict[tuple, webconfig.FolderConfig] = {}
        self._session: aiohttp.ClientSession | None = None
        self._runner: web.AppRunner | None = None
        self._watcher: asyncio.Task | None = None
        self._websockets: weakref.WeakSet[web.WebSocketResponse] = weakref.WeakSet()  # open ones

    # --- configuration -----------------------------------------------------------------------
    def _stamp(self, paths) -> tuple:
        stamps = []
        for path in paths:
            try:
                info = path.stat()
                stamps.append((str(path), info.st_mtime_ns, info.st_size))
            except OSError:
                stamps.append((str(path), None, None))
        return tuple(stamps)

    def _load(self) -> SiteState:
        path = self.site_root / "web.config"
        stamp = self._stamp([path])
        try:
            root = webconfig.read(path)
            folder = webconfig.merge_folder(webconfig.FolderConfig(), root, path)
            element = root.find(webconfig.SECTION)
            platform = (
                None if element is None else webconfig.parse_http_platform(element, path, self.hph_builds)
            )
        except webconfig.ConfigError as exc:
            return SiteState(None, None, exc, stamp)
        except OSError as exc:
            return SiteState(None, None, webconfig.ConfigError(path, [f"cannot read: {exc}"]), stamp)
        return SiteState(platform, folder, None, stamp)

    def _new_pool(self) -> ProcessPool | None:
        if self.state.platform is None:
            return None
        return ProcessPool(
            self.state.platform,
            self.site_root,
            self.environ,
            stop_grace=self.stop_grace,
            clock=self.clock,
            own=self.tokens.environment() if self.tokens else None,
        )

    def _recycle_files(self) -> list[Path]:
        platform = self.state.platform
        files = platform.recycle_on_file_change if platform else ()
        return [resolve(expand(f, self.environ), self.site_root) for f in files]

    def folder_config(self, folders: list[Path]) -> webconfig.FolderConfig:
        """The root configuration merged with each sub-folder's web.config down to the file."""
        configs = [f / "web.config" for f in folders if _exists((f / "web.config").is_file)]
        key = self._stamp(configs)
        if key not in self._folders:
            merged = self.state.root
            for path in configs:
                merged = webconfig.merge_folder(merged, webconfig.read(path), path)
            self._folders[key] = merged
        return self._folders[key]

    @property
    def timeout(self) -> float:
        return (
            self.request_timeout if self.request_timeout is not None else self.state.platform.request_timeout
        )

    # --- lifecycle ---------------------------------------------------------------------------
    async def start(self, host: str = "127.0.0.1", port: int = 8000) -> int:
        """Listen on host:port (0 picks a port); returns the port."""
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, ttl_dns_cache=None),
            auto_decompress=False,
            cookie_jar=aiohttp.DummyCookieJar(),
        )
        # No routes: every request goes to handle() from the middleware, whatever aiohttp's router
        # would make of its target (`*`, `host:443`, a newline): it must never answer for IIS.
        app = web.Application(middlewares=[_own_errors_as_iis, self._dispatch])
        app.on_response_prepare.append(_server_header)
        app.on_shutdown.append(self._close_websockets)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        try:
            await web.TCPSite(self._runner, host, port).start()
        except OSError as exc:
            await self._runner.cleanup()
            await self._session.close()
            raise PortInUse(host, port, exc) from exc
        self._watcher = asyncio.ensure_future(self._watch())
        return self._runner.addresses[0][1]

    async def close(self) -> None:
        """Stop listening and stop every backend process tree."""
        if self._watcher:
            self._watcher.cancel()
        if self._runner:
            await self._runner.cleanup()
        if self._session:
            await self._session.close()
        if self.pool:
            await self.pool.stop_all()

    async def _close_websockets(self, _app: web.Application) -> None:
        """On stop, close the open WebSockets with 1001 (going away: RFC 6455 section 7.4.1); their
        relays would otherwise hold the stop for aiohttp's 60 s shutdown timeout."""
        closing = [ws.close(code=aiohttp.WSCloseCode.GOING_AWAY) for ws in list(self._websockets)]
        await asyncio.gather(*closing, return_exceptions=True)

    async def recycle(self) -> None:
        """Stop the processes; the next request starts new ones (HPH on a watched file change)."""
        self.recycles += 1
        if self.pool:
            await self.pool.stop_all()

    async def _recycle_if_signalled(self) -> None:
        """IIS recycling the app pool ends its worker process (w3wp.exe), whose Job object ends HPH's
        processes with it; requests after the recycle go to the new worker, whose HPH starts new
        processes on the code now on disk. Checked before each request too, so none after the
        recycle reaches an old process."""
        if self.recycle_signal is None:
            return
        stamp = self._stamp([self.recycle_signal])
        if stamp != self._signal_stamp:
            self._signal_stamp = stamp
            await self.recycle()

    async def _watch(self) -> None:
        """Poll web.config and the recycleOnFileChange files (stdlib only, same on every OS).
        A web.config change reloads the configuration and restarts the process, as IIS does."""
        files = self._stamp(self._recycle_files())
        while True:
            await asyncio.sleep(self.watch_interval)
            if self._stamp([self.site_root / "web.config"]) != self.state.stamp:
                old = self.pool
                self.state, self._folders = self._load(), {}
                self.pool = self._new_pool()
                if old:
                    await old.stop_all()
                self.recycles += 1
                files = self._stamp(self._recycle_files())
                continue
            await self._recycle_if_signalled()
            current = self._stamp(self._recycle_files())
            if current != files:
                files = current
                await self.recycle()

    # --- the request pipeline ------------------------------------------------------------------
    @web.middleware
    async def _dispatch(self, request: web.Request, handler) -> web.StreamResponse:
        return await self.handle(request)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if not request.raw_path.startswith(("/", "http://", "https://")):
            # asterisk-form (OPTIONS *) and authority-form (CONNECT) targets: not emulated
            return iis_error("404.0", f"request target {request.raw_path!r} is not emulated")
        refused = httpsys_check(request)
        if refused:
            return refused
        if self.state.error:
            return self.config_error(self.state.error)
        segments = [s for s in request.path.split("/") if s]
        if any(s in ("..", ".") for s in segments):
            return iis_error("404.0")
        physical = self.site_root.joinpath(*segments)
        folders = [self.site_root.joinpath(*segments[:i]) for i in range(1, len(segments) + 1)]
        folders = [f for f in folders if _exists(f.is_dir)]
        try:
            config = self.folder_config(folders)
        except webconfig.ConfigError as exc:
            return self.config_error(exc)
        request[CUSTOM_HEADERS] = config.custom_headers
        refused = request_filtering(request, config, segments)
        if refused:
            return refused
        name = segments[-1] if segments else ""
        handler = config.handler_for(name or "default", request.method)
        if handler is None:
            return iis_error("404.4")
        if handler.modules == "StaticFileModule":
            return self.static_file(request, physical, config)
        if handler.modules == "httpPlatformHandler":
            return await self.http_platform(request)
        return iis_error("404.4", f"handler {handler.name} ({handler.modules}) is not emulated")

    def config_error(self, error: webconfig.ConfigError) -> web.Response:
        """500.19 with the doctor's fix for the builds this emulator checks against."""
        build = self.hph_builds[0] if len(self.hph_builds) == 1 else None
        loads = f"HttpPlatformHandler {build}" if build else "HttpPlatformHandler 1.2 or v2"
        return iis_error(
            "500.19",
            str(error),
            f"web.config would not load under {loads}: " + "; ".join(error.reasons),
            diagnose.config_fix(error.reasons, build),
        )

    def static_file(self, request: web.Request, physical: Path, config: webconfig.FolderConfig):
        """IIS's StaticFileModule: GET/HEAD of an existing file whose extension has a MIME map,
        with the folder's clientCache headers (conditional GET and ranges come from aiohttp)."""
        if request.method not in ("GET", "HEAD"):
            return iis_error("405.0")
        if _exists(physical.is_dir):
            return iis_error("403.14")
        if not _exists(physical.is_file):
            return iis_error("404.0")
        content_type = mime_type(physical.name, config)
        if content_type is None:
            return iis_error("404.3")
        headers = {"Content-Type": content_type, **cache_headers(config)}
        return web.FileResponse(physical, headers=headers)

    async def http_platform(self, request: web.Request) -> web.StreamResponse:
        if self.pool is None:
            return iis_error(
                "500.19", "the handler is httpPlatformHandler but web.config has no <httpPlatform>"
            )
        await self._recycle_if_signalled()
        try:
            backend = await self.pool.acquire()
        except BackendUnavailable as exc:
            return iis_error("502.3", str(exc), exc.diagnosis, exc.fix)
        forwards_token = self.tokens is not None and self.state.platform.forward_windows_auth_token
        token = self.tokens.issue() if forwards_token else None
        try:
            if _is_websocket(request):
                return await forward_websocket(
                    request, self._session, backend.port, self.timeout, token, opened=self._websockets.add
                )
            return await forward_http(request, self._session, backend.port, self.timeout, token)
        except BackendError as exc:
            return iis_error("502.3", str(exc))


class PortInUse(OSError):
    """The emulator cannot listen where it was told to (mostly: another server has the port)."""

    def __init__(self, host: str, port: int, cause: OSError):
        advice = (
            "another server is using the port: stop it, or choose another port (invoke serve --port N)"
            if cause.errno in {errno.EADDRINUSE, getattr(errno, "WSAEADDRINUSE", errno.EADDRINUSE)}
            else "check --host and --port"
        )
        super().__init__(cause.errno, f"cannot listen on {host}:{port}: {cause.strerror or cause}; {advice}")


def httpsys_check(request: web.BaseRequest) -> web.Response | None:
    """What http.sys refuses before IIS runs (400): escaped control characters, and a path
    segment longer than UrlSegmentMaxLength characters."""
    path = request.path
    if any(c in RESTRICTED for c in path):
        return httpsys_bad_request("AllowRestrictedChars")
    if any(len(segment) > URL_SEGMENT_MAX_LENGTH for segment in path.split("/")):
        return httpsys_bad_request("UrlSegmentMaxLength")
    return None


def request_filtering(
    request: web.BaseRequest, config: webconfig.FolderConfig, segments: list[str]
) -> web.Response | None:
    """IIS's request filtering module, in the order its substatus codes are listed (iis-docs,
    "Request Filtering <requestFiltering>" and "Request Limits <requestLimits>"), except that
    hidden segments come before file extensions (/web.config answers 404.8 on IIS)."""
    raw_path = request.rel_url.raw_path
    once = urllib.parse.unquote(raw_path)
    # Double escaping: the decoded URL would decode again (a `%XX` left, or `+`, which IIS treats
    # as an escaped space) (iis-docs allowDoubleEscaping; `+` in a path is the well-known 404.11).
    if not config.allow_double_escaping and urllib.parse.unquote(once.replace("+", " ")) != once:
        return iis_error("404.11")
    if not config.allow_high_bit_characters and any(ord(c) > 127 for c in once):
        return iis_error("404.12")
    if len(request.path.encode("utf-8", "surrogateescape")) > config.max_url:
        return iis_error("404.14", f"maxUrl is {config.max_url} bytes")
    if len(request.rel_url.raw_query_string.encode()) > config.max_query_string:
        return iis_error("404.15", f"maxQueryString is {config.max_query_string} bytes")
    length = request.content_length
    if length is not None and length > config.max_allowed_content_length:
        return iis_error("404.13", f"maxAllowedContentLength is {config.max_allowed_content_length} bytes")
    # Hidden segments before extensions: /web.config is 404.8 on IIS though .config is denied too.
    if any(s.lower() in config.hidden_segments for s in segments):
        return iis_error("404.8")
    extension = os.path.splitext(segments[-1] if segments else "")[1]
    if extension and not config.extension_allowed(extension):
        return iis_error("404.7")
    return None


def _is_websocket(request: web.Request) -> bool:
    return request.headers.get("Upgrade", "").lower() == "websocket" and "upgrade" in (
        request.headers.get("Connection", "").lower()
    )


def mime_type(name: str, config: webconfig.FolderConfig) -> str | None:
    """applicationHost's mimeMap (approximated by Python's built-in table) with the web.config
    <mimeMap>/<remove>/<clear> entries applied in order; None means IIS refuses (404.3)."""
    extension = os.path.splitext(name)[1].lower()
    found = BUILTIN_MIME.types_map[True].get(extension)
    for key, value in config.mime_map:
        if key == "*":
            found = None
        elif key == extension:
            found = value
    return found


def cache_headers(config: webconfig.FolderConfig) -> dict[str, str]:
    """<clientCache>: UseMaxAge adds `Cache-Control: max-age=N` (cacheControlCustom joins it),
    DisableCache `no-cache`, UseExpires an `Expires` header (iis-docs, clientCache)."""
    custom = [config.cache_control_custom] if config.cache_control_custom else []
    if config.cache_control_mode == "UseMaxAge":
        return {"Cache-Control": ", ".join([f"max-age={config.cache_control_max_age}", *custom])}
    if config.cache_control_mode == "DisableCache":
        return {"Cache-Control": ", ".join(["no-cache", *custom])}
    if config.cache_control_mode == "UseExpires":
        return {
            "Expires": config.http_expires or formatdate(usegmt=True),
            **({"Cache-Control": custom[0]} if custom else {}),
        }
    return {"Cache-Control": custom[0]} if custom else {}
