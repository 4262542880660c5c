"""The deploy's closing check against a site with Windows sign-in: IIS answers 401 with
`WWW-Authenticate: Negotiate` and `NTLM` (IIS's default providers) before the app is reached, and
the report says so and how to check by hand, instead of pointing at the app's logs."""

import http.server
import threading
from pathlib import Path

import pytest

from iishost.deploy.verify import failure_message, wait_for_200


@pytest.fixture
def server():
    class Handler(http.server.BaseHTTPRequestHandler):
        challenge = ("Negotiate", "NTLM")

        def do_GET(self):
            self.send_response(401)
            for scheme in self.challenge:
                self.send_header("WWW-Authenticate", scheme)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd, Handler
    httpd.shutdown()
    httpd.server_close()


def test_a_windows_sign_in_challenge_is_named_with_the_manual_check(server):
    httpd, _ = server
    url = f"http://127.0.0.1:{httpd.server_port}/health/"
    ok, last = wait_for_200(url, timeout=0.5, interval=0.2)
    assert not ok and last == "HTTP 401 Unauthorized (IIS asks for Windows sign-in)"
    message = failure_message(url, 0.5, last, Path("."))
    assert "Invoke-WebRequest" in message and "-UseDefaultCredentials" in message
    assert "every step was applied" in message


def test_another_401_is_not_taken_for_windows_sign_in(server):
    httpd, handler = server
    handler.challenge = ('Basic realm="x"',)
    ok, last = wait_for_200(f"http://127.0.0.1:{httpd.server_port}/health/", timeout=0.5, interval=0.2)
    assert not ok and last == "HTTP 401 Unauthorized"
    assert "Windows sign-in" not in failure_message("u", 0.5, last, Path("."))
