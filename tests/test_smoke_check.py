"""iishost/ci/smoke.py, the check the real-IIS workflow runs through IIS, run here against a fake
site (each failure it must catch, and TLS with a self-signed certificate) and against the emulator
(`invoke serve`: the generated project as IIS will run it)."""

from __future__ import annotations

import contextlib
import http.server
import itertools
import os
import secrets
import shutil
import ssl
import subprocess
import sys
import threading
import urllib.parse

import pytest
from conftest import ROOT, find_python, venv_python

from iishost.ci import smoke

USER, PASSWORD = "smoke", "a long pass phrase 42"


class FakeSite(http.server.BaseHTTPRequestHandler):
    """What the smoke check expects of the site, with switches to break each part."""

    pids = itertools.cycle(["101", "202"])
    faults: set[str] = set()

    def log_message(self, *args):
        pass

    def answer(self, status, body="", headers=()):
        data = body.encode()
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def cookies(self):
        return dict(c.strip().split("=", 1) for c in self.headers.get("Cookie", "").split(";") if "=" in c)

    def do_GET(self):
        path = urllib.parse.urlsplit(self.path).path
        if "redirect" in self.faults:
            return self.answer(301, headers=[("Location", f"https://localhost{self.path}")])
        if path == "/health/":
            pid = "101" if "one-process" in self.faults else next(self.pids)
            pid_header = [] if "no-pid" in self.faults else [("X-Backend-Pid", pid)]
            return self.answer(200, "ok", [("Content-Type", "text/plain"), *pid_header])
        if path == "/static/admin/css/base.css" and "no-static" not in self.faults:
            return self.answer(200, "body {}", [("Content-Type", "text/css")])
        if path == "/.env" and "leak" in self.faults:
            return self.answer(200, "DJANGO_SECRET_KEY=x")
        if path == "/admin/login/":
            page = '<form method="post"><input type="hidden" name="csrfmiddlewaretoken" value="tok"></form>'
            return self.answer(
                200, page, [("Content-Type", "text/html"), ("Set-Cookie", "csrftoken=c; Path=/")]
            )
        if path == "/admin/":
            if self.cookies().get("sessionid") == "s":
                return self.answer(200, "Site administration")
            return self.answer(302, headers=[("Location", "/admin/login/?next=/admin/")])
        return self.answer(404, "Not Found")

    def do_POST(self):
        form = dict(urllib.parse.parse_qsl(self.rfile.read(int(self.headers["Content-Length"])).decode()))
        csrf_ok = form.get("csrfmiddlewaretoken") == "tok" and self.cookies().get("csrftoken") == "c"
        if not csrf_ok and "no-csrf" not in self.faults:
            return self.answer(403, "CSRF verification failed")
        if (form.get("username"), form.get("password")) == (USER, PASSWORD):
            return self.answer(302, headers=[("Location", "/admin/"), ("Set-Cookie", "sessionid=s; Path=/")])
        return self.answer(200, "Please enter the correct username and password")


@contextlib.contextmanager
def fake_site(*faults, tls=None):
    handler = type("Site", (FakeSite,), {"faults": set(faults), "pids": itertools.cycle(["101", "202"])})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    if tls:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*tls)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"{'https' if tls else 'http'}://localhost:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def credentials(monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_USERNAME", USER)
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", PASSWORD)


def run_smoke(url, *args, capsys):
    code = smoke.main(["--url", url, *args])
    out = capsys.readouterr()
    return code, out.out + out.err


def test_a_good_site_passes_every_check(credentials, capsys):
    with fake_site() as url:
        code, output = run_smoke(url, "--processes", "2", capsys=capsys)
    assert code == 0, output
    expected = [
        "ok   GET " + url + "health/",
        "static file",
        ".env is 404",
        "without the CSRF token is refused",
    ]
    for line in [*expected, f"with the CSRF token logs {USER} in", "ok   2 backend processes answer"]:
        assert line in output, output


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        ("leak", "FAIL GET http://localhost:{port}/.env is 404: 200"),
        ("no-static", "FAIL GET http://localhost:{port}/static/admin/css/base.css (static file): 404"),
        (
            "no-csrf",
            "FAIL POST http://localhost:{port}/admin/login/?next=/admin/ without the CSRF token is refused (403): 302",  # noqa: E501
        ),
        (
            "one-process",
            "FAIL 2 backend processes answer http://localhost:{port}/health/: process ids 101 in 20",
        ),
        ("no-pid", "no X-Backend-Pid header: set DJANGO_HEALTH_SHOWS_PID=1 in .env"),
    ],
    ids=["leak", "no-static", "no-csrf", "one-process", "no-pid"],
)
def test_each_fault_fails_the_check_and_says_which(credentials, capsys, fault, expected):
    with fake_site(fault) as url:
        code, output = run_smoke(url, "--processes", "2", capsys=capsys)
    port = urllib.parse.urlsplit(url).port
    assert code == 1 and expected.format(port=port) in output, output
    assert "check(s) failed" in output


def test_wrong_password_fails_the_login_check(monkeypatch, capsys):
    monkeypatch.setenv("DJANGO_SUPERUSER_USERNAME", USER)
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "not it")
    with fake_site() as url:
        code, output = run_smoke(url, capsys=capsys)
    assert (
        code == 1 and f"FAIL POST {url}admin/login/?next=/admin/ with the CSRF token logs {USER} in" in output
    )


def test_missing_credentials_say_how_to_set_them(monkeypatch, capsys):
    monkeypatch.delenv("DJANGO_SUPERUSER_USERNAME", raising=False)
    monkeypatch.delenv("DJANGO_SUPERUSER_PASSWORD", raising=False)
    with fake_site() as url:
        code, output = run_smoke(url, capsys=capsys)
    assert code == 1 and "createsuperuser --noinput" in output
    with fake_site() as url:
        assert run_smoke(url, "--no-admin", capsys=capsys)[0] == 0


def test_http_redirecting_to_https_needs_an_https_url(credentials, capsys):
    with fake_site("redirect") as url:
        code, output = run_smoke(url, capsys=capsys)
    assert code == 1 and "redirects to HTTPS" in output and "give an https --url too" in output


def test_processes_come_from_web_config(tmp_path):
    config = tmp_path / "web.config"
    config.write_text(
        '<configuration><system.webServer><httpPlatform processesPerApplication="3"/>'
        "</system.webServer></configuration>"
    )
    assert smoke.processes_per_application(str(config)) == 3
    config.write_text("<configuration><system.webServer><httpPlatform/></system.webServer></configuration>")
    assert smoke.processes_per_application(str(config)) == 1
    # The template's own web.config, as the workflow reads it.
    rendered = (ROOT / "template" / "web.config.jinja").read_text()
    assert 'processesPerApplication="2"' in rendered


def test_no_server_is_one_clear_failure(capsys):
    with fake_site() as url:
        pass  # stopped: nothing listens on its port any more
    code, output = run_smoke(url, "--no-admin", capsys=capsys)
    assert code == 1 and f"FAIL GET {url}health/: no answer: [" in output, output
    assert output.count("FAIL") == 1 and "Traceback" not in output


def test_refuses_a_url_that_is_not_http(capsys):
    with pytest.raises(SystemExit):
        smoke.main(["--url", "file:///etc/passwd"])
    assert "give an http:// or https:// URL" in capsys.readouterr().err


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory):
    """A certificate like New-SelfSignedCertificate's: for localhost, no basic constraints, server
    and client authentication (Microsoft's cmdlet reference lists those defaults)."""
    if not shutil.which("openssl"):
        pytest.skip("openssl is not installed")
    folder = tmp_path_factory.mktemp("tls")
    (folder / "openssl.cnf").write_text(
        "[req]\ndistinguished_name = dn\nprompt = no\nx509_extensions = leaf\n[dn]\nCN = localhost\n"
        "[leaf]\nsubjectAltName = DNS:localhost\nkeyUsage = digitalSignature, keyEncipherment\n"
        "extendedKeyUsage = serverAuth, clientAuth\nsubjectKeyIdentifier = hash\n"
    )
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-config", "openssl.cnf",
         "-keyout", "key.pem", "-out", "cert.pem"],
        cwd=folder, check=True, capture_output=True,
    )  # fmt: skip
    return folder / "cert.pem", folder / "key.pem"


@pytest.mark.parametrize("version", ["this", "3.13"])
def test_https_with_a_self_signed_certificate(self_signed, version):
    """--cafile trusts the certificate (also under Python 3.13's strict X.509 checks); the host name
    is still checked (a certificate for localhost does not pass for 127.0.0.1), and without --cafile
    the certificate is not trusted."""
    python = sys.executable if version == "this" else find_python(version)
    if not python:
        pytest.skip(f"no Python {version} here")
    env = {**os.environ, "DJANGO_SUPERUSER_USERNAME": USER, "DJANGO_SUPERUSER_PASSWORD": PASSWORD}

    def check(*args):
        argv = [python, "-m", "iishost.ci.smoke", *args]
        return subprocess.run(
            argv, cwd=ROOT / "template", env=env, capture_output=True, text=True, timeout=120
        )

    cert = str(self_signed[0])
    with fake_site(tls=self_signed) as url:
        good = check("--url", url, "--cafile", cert, "--processes", "2")
        bad = check("--url", url.replace("localhost", "127.0.0.1"), "--cafile", cert, "--no-admin")
        untrusted = check("--url", url, "--no-admin")
    assert good.returncode == 0, good.stdout + good.stderr
    for refused in (bad, untrusted):
        assert refused.returncode == 1 and "Traceback" not in refused.stderr, refused.stderr
        assert "/health/: no answer: [SSL: CERTIFICATE_VERIFY_FAILED]" in refused.stdout, refused.stdout


@pytest.mark.slow
@pytest.mark.skipif(os.name == "nt", reason="`invoke serve` is stopped with POSIX signals")
def test_smoke_check_passes_against_the_emulator(default_project, tmp_path):
    """The workflow's own check, against `invoke serve`: the generated project's web.config run as
    IIS would, both processes of processesPerApplication answering."""
    from test_serve_e2e import serving

    username = "smoke" + secrets.token_hex(4)
    env = {
        **os.environ,
        "DJANGO_SUPERUSER_USERNAME": username,
        "DJANGO_SUPERUSER_EMAIL": f"{username}@example.com",
        "DJANGO_SUPERUSER_PASSWORD": secrets.token_urlsafe(24),
    }
    python = str(venv_python(default_project))

    def run(*argv):
        return subprocess.run(
            [python, *argv], cwd=default_project, env=env, capture_output=True, text=True, timeout=300
        )

    with serving(
        default_project, tmp_path, DJANGO_HEALTH_SHOWS_PID="1"
    ) as port:  # migrates first, as deploy does
        created = run("manage.py", "createsuperuser", "--noinput")
        assert created.returncode == 0, created.stdout + created.stderr
        checked = run(
            "-m", "iishost.ci.smoke", "--url", f"http://127.0.0.1:{port}/", "--web-config", "web.config"
        )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "ok   2 backend processes answer" in checked.stdout
    assert f"ok   GET http://127.0.0.1:{port}/.env is 404" in checked.stdout
    with serving(default_project, tmp_path) as port:  # the header is off unless asked for
        unasked = run("-m", "iishost.ci.smoke", "--url", f"http://127.0.0.1:{port}/", "--processes", "2")
    assert unasked.returncode == 1 and "no X-Backend-Pid header" in unasked.stdout
