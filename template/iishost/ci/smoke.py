"""Smoke check of a deployed site over HTTP(S), as a browser and a load balancer would see it.

    python -m iishost.ci.smoke --url http://localhost/ [--url https://localhost/ --cafile cert.pem]

Run by the real-IIS workflow after `invoke deploy` (.github/actions/windows-iis/action.yml) and, by
the template's tests, against `invoke serve` (the emulator): the same script on both. Standard
library only. For each URL it checks:

- `/health/` answers 200 `ok` (an http URL that redirects to https, as with `DJANGO_HTTPS=1`, is
  checked for that redirect only);
- a static file (`--static`, default the admin's stylesheet) answers 200 with a text/css type;
- private paths (`/.env`, `/.venv/pyvenv.cfg`, `/web.config`) answer 404;
- the admin: the login page sets the CSRF cookie and carries the token; a login POST without the
  token is refused (403); with it, the user in DJANGO_SUPERUSER_USERNAME/DJANGO_SUPERUSER_PASSWORD
  (the variables `manage.py createsuperuser --noinput` reads) is logged in (302 and a session
  cookie) and `/admin/` then answers 200;
- `--processes N`, or `--web-config web.config` for its processesPerApplication: N different
  backend process ids answer `/health/`, read from its `X-Backend-Pid` header, which the health
  view sends only when `DJANGO_HEALTH_SHOWS_PID=1` (iishost/docs/settings.md).

Every check runs, each prints one line, and the exit status is 1 if any failed.
"""

from __future__ import annotations

import argparse
import html.parser
import http.client
import http.cookiejar
import os
import ssl
import sys
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from xml.etree import ElementTree

PRIVATE_PATHS = ("/.env", "/.venv/pyvenv.cfg", "/web.config")
DEFAULT_STATIC = "/static/admin/css/base.css"
PID_HEADER = "X-Backend-Pid"
TIMEOUT = 60


@dataclass
class Response:
    status: int
    headers: http.client.HTTPMessage
    body: str


class NoRedirect(urllib.request.HTTPRedirectHandler):
    """Redirects are answers to check, not to follow."""

    def redirect_request(self, *args, **kwargs):
        return None


class Browser:
    """One cookie jar, no redirects followed, TLS verified against `cafile` (or the system's)."""

    def __init__(self, cafile: str | None = None):
        self.cookies = http.cookiejar.CookieJar()
        # Verified as any client would: the chain (to `cafile` only, when given) and the host name.
        context = ssl.create_default_context(cafile=cafile)
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.cookies),
            urllib.request.HTTPSHandler(context=context),
            NoRedirect,
        )

    def request(self, url: str, data: dict | None = None, headers: dict | None = None) -> Response:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        # main() accepts http and https URLs only.
        request = urllib.request.Request(url, data=body, headers=headers or {})  # noqa: S310
        try:
            with self.opener.open(request, timeout=TIMEOUT) as response:
                return Response(response.status, response.headers, response.read().decode("utf-8", "replace"))
        except urllib.error.HTTPError as error:  # 3xx (not followed), 4xx, 5xx: an answer all the same
            with error:
                return Response(error.code, error.headers, error.read().decode("utf-8", "replace"))
        except (urllib.error.URLError, OSError) as error:  # refused, TLS not trusted, timed out
            reason = getattr(error, "reason", error)
            return Response(0, http.client.HTTPMessage(), f"no answer: {reason}")

    def cookie(self, name: str) -> str | None:
        return next((c.value for c in self.cookies if c.name == name), None)


class TokenFinder(html.parser.HTMLParser):
    """The value of the login form's hidden csrfmiddlewaretoken input."""

    def __init__(self):
        super().__init__()
        self.token: str | None = None

    def handle_starttag(self, tag, attrs):
        values = dict(attrs)
        if tag == "input" and values.get("name") == "csrfmiddlewaretoken":
            self.token = values.get("value")


def csrf_token(page: str) -> str | None:
    finder = TokenFinder()
    finder.feed(page)
    return finder.token


@dataclass
class Report:
    failures: list[str] = field(default_factory=list)

    def check(self, ok: bool, what: str, detail: str = "") -> bool:
        print(f"{'ok  ' if ok else 'FAIL'} {what}" + (f": {detail}" if detail else ""), flush=True)
        if not ok:
            self.failures.append(what + (f": {detail}" if detail else ""))
        return ok


def describe(response: Response) -> str:
    location = response.headers.get("Location")
    return f"{response.status}" + (f" -> {location}" if location else "") + f", {response.body[:200]!r}"


def check_site(base: str, args: argparse.Namespace, report: Report, redirected_ok: bool) -> None:
    """All checks against one base URL."""
    browser = Browser(args.cafile)
    url = lambda path: urllib.parse.urljoin(base, path)  # noqa: E731

    health = browser.request(url("/health/"))
    if health.status == 0:
        report.check(False, f"GET {url('/health/')}", health.body)
        return
    location = health.headers.get("Location", "")
    if base.startswith("http:") and health.status in (301, 302, 307, 308) and location.startswith("https:"):
        hint = "" if redirected_ok else "give an https --url too, so the site itself is checked"
        report.check(redirected_ok, f"GET {url('/health/')} redirects to HTTPS ({location})", hint)
        return
    ok = health.status == 200 and health.body.strip() == "ok"
    report.check(ok, f"GET {url('/health/')}", describe(health))

    static = browser.request(url(args.static))
    report.check(
        static.status == 200 and static.headers.get("Content-Type", "").startswith("text/css"),
        f"GET {url(args.static)} (static file)",
        f"{static.status} {static.headers.get('Content-Type')}",
    )

    for path in PRIVATE_PATHS:
        answer = browser.request(url(path))
        report.check(answer.status == 404, f"GET {url(path)} is 404", str(answer.status))

    if args.admin:
        check_admin(browser, url, report)
    if args.processes:
        check_processes(browser, url("/health/"), args.processes, report)


def check_admin(browser: Browser, url, report: Report) -> None:
    username = os.environ.get("DJANGO_SUPERUSER_USERNAME", "")
    password = os.environ.get("DJANGO_SUPERUSER_PASSWORD", "")
    hint = (
        "set DJANGO_SUPERUSER_USERNAME and DJANGO_SUPERUSER_PASSWORD "
        "(and create that user: manage.py createsuperuser --noinput)"
    )
    if not report.check(
        bool(username and password),
        "admin credentials in the environment",
        "" if username and password else hint,
    ):
        return
    login_url = url("/admin/login/?next=/admin/")
    page = browser.request(login_url)
    token, cookie = csrf_token(page.body), browser.cookie("csrftoken")
    found = f"{page.status}, token {'found' if token else 'missing'}, cookie {'set' if cookie else 'missing'}"
    if not report.check(page.status == 200 and bool(token and cookie), f"GET {login_url} (CSRF)", found):
        return
    # What a browser sends with a form POST: Django checks Origin (or, over HTTPS, Referer).
    origin = "{0.scheme}://{0.netloc}".format(urllib.parse.urlsplit(login_url))
    headers = {"Origin": origin, "Referer": login_url}
    form = {"username": username, "password": password, "next": "/admin/"}
    refused = browser.request(login_url, data=form, headers=headers)
    report.check(
        refused.status == 403,
        f"POST {login_url} without the CSRF token is refused (403)",
        str(refused.status),
    )
    answer = browser.request(login_url, data={**form, "csrfmiddlewaretoken": token}, headers=headers)
    report.check(
        answer.status == 302 and bool(browser.cookie("sessionid")),
        f"POST {login_url} with the CSRF token logs {username} in",
        describe(answer) + ("" if browser.cookie("sessionid") else ", no session cookie"),
    )
    admin = browser.request(url("/admin/"))
    report.check(admin.status == 200, f"GET {url('/admin/')} as {username}", describe(admin))


def check_processes(browser: Browser, health_url: str, wanted: int, report: Report) -> None:
    """Ask until `wanted` different process ids have answered (HttpPlatformHandler shares requests
    among its processes; each request on a new connection)."""
    pids: list[str] = []
    for _ in range(max(20, 10 * wanted)):
        answer = browser.request(health_url, headers={"Connection": "close"})
        pid = answer.headers.get(PID_HEADER)
        if answer.status != 200 or not pid:
            hint = f"{answer.status}, no {PID_HEADER} header: set DJANGO_HEALTH_SHOWS_PID=1 in .env"
            report.check(False, f"GET {health_url} names its process", hint)
            return
        pids.append(pid)
        if len(set(pids)) >= wanted:
            break
    distinct = sorted(set(pids), key=pids.index)
    seen = f"process ids {', '.join(distinct)} in {len(pids)} requests"
    report.check(len(distinct) >= wanted, f"{wanted} backend processes answer {health_url}", seen)


def processes_per_application(web_config: str) -> int:
    """httpPlatform's processesPerApplication in `web_config` (the schema's default: 1)."""
    root = ElementTree.parse(web_config).getroot()  # noqa: S314 (the project's own file)
    platform = root.find("system.webServer/httpPlatform")
    return int(platform.get("processesPerApplication", "1")) if platform is not None else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m iishost.ci.smoke", description=__doc__.split("\n")[0])
    parser.add_argument("--url", action="append", required=True, help="the site's base URL (repeatable)")
    parser.add_argument("--cafile", help="PEM certificate(s) to trust for https URLs (a self-signed one)")
    parser.add_argument("--static", default=DEFAULT_STATIC, help=f"a static file (default {DEFAULT_STATIC})")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--processes", type=int, default=0, help="processes that must answer (0: skip)")
    group.add_argument("--web-config", help="as many processes as this web.config's processesPerApplication")
    parser.add_argument("--no-admin", dest="admin", action="store_false", help="skip the admin login")
    args = parser.parse_args(argv)
    for base in args.url:
        parts = urllib.parse.urlsplit(base)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            parser.error(f"--url {base}: give an http:// or https:// URL, e.g. http://localhost/")
    if args.web_config:
        args.processes = processes_per_application(args.web_config)
    report = Report()
    has_https = any(u.startswith("https:") for u in args.url)
    for base in args.url:
        check_site(base if base.endswith("/") else base + "/", args, report, redirected_ok=has_https)
    if report.failures:
        print(f"\n{len(report.failures)} check(s) failed:", *report.failures, sep="\n  ", file=sys.stderr)
        return 1
    print("\nall checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
