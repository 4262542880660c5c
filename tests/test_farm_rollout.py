"""The farm option's rolling deploy (iishost/rollout/rollout.yml), run by Ansible against three local nodes.

Each node is a checkout of the generated project (one venv shared by symlink, as the project's own
fake_server fixture does), deployed with the fake appcmd/icacls (its own $FAKE_IIS_DIR) and served
through the emulator on its own loopback port; the emulator restarts its backends when the fake
appcmd recycles the pool (--recycle-signal), as IIS does. The balancer is the fake appcmd's ARR
webFarms section, plus a small front here that routes to the nodes ARR has enabled (what the public
host name reaches: `invoke deploy` checks it, as a farm node's default deploy.check_url would).
Ansible's local connection runs everything; ansible-playbook is a subprocess with a time limit.
"""

from __future__ import annotations

import http.server
import itertools
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml
from conftest import bootstrap, git, render

BIN = Path(sys.executable).parent
PLAYBOOK_BIN, LINT_BIN = BIN / "ansible-playbook", BIN / "ansible-lint"
needs_ansible = pytest.mark.skipif(
    not PLAYBOOK_BIN.exists(),
    reason="Ansible is not installed: `python -m pip install --group dev` installs it on Python 3.11 or "
    "newer (ansible-core 2.19 needs 3.11 on the controller)",
)
posix_only = pytest.mark.skipif(
    os.name == "nt",
    reason="the fake appcmd/icacls are POSIX scripts, and Ansible cannot control from Windows",
)
pytestmark = [needs_ansible, posix_only]
FARM = "web"
NODES = ("node1", "node2", "node3")
V2_TEXT = "Release two is here."
# v2's entry point needs a key from each server's .env: node 2 lacks it, so its backend crashes (502).
V2_ASGI = """
# Release 2: the servers' .env must give this key; the app refuses to start without it.
if not os.environ.get("ROLLOUT_FEATURE_KEY"):
    raise RuntimeError("ROLLOUT_FEATURE_KEY is not set: add it to this server's .env")
"""


def ansible_env(home: Path) -> dict[str, str]:
    """A clean environment for Ansible (UTF-8 locale, its state under `home`, no colour)."""
    keep = {k: v for k, v in os.environ.items() if k in {"PATH", "TMPDIR"}}
    return {
        **keep,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "HOME": str(home),
        "LC_ALL": "C.UTF-8",
        "LANG": "C.UTF-8",
        "ANSIBLE_HOME": str(home / ".ansible"),
        "ANSIBLE_LOCAL_TEMP": str(home / ".ansible" / "tmp"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_RETRY_FILES_ENABLED": "0",
        "PYTHONUTF8": "1",
    }


# ---- without servers: lint, and what the playbook computes for Windows nodes ----------------------


@pytest.fixture(scope="module")
def farm_render(template_repo, tmp_path_factory) -> Path:
    return render(template_repo, tmp_path_factory.mktemp("farm-render") / "proj", farm=True)


def test_ansible_lint_passes_on_the_rendered_playbook(farm_render, tmp_path):
    if not LINT_BIN.exists():
        pytest.skip("ansible-lint is not installed (`python -m pip install --group dev` on Python 3.11+)")
    farm = farm_render / "iishost" / "rollout"
    # --offline: no Galaxy here; the collections the playbook uses come with the `ansible` package.
    result = subprocess.run(
        [LINT_BIN, "--offline", "--profile", "production", "--format", "pep8", "rollout.yml"],
        cwd=farm, env=ansible_env(tmp_path), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    syntax = subprocess.run(
        [PLAYBOOK_BIN, "--syntax-check", "-i", "inventory.example.yml", "rollout.yml"],
        cwd=farm, env=ansible_env(tmp_path), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert syntax.returncode == 0, syntax.stdout + syntax.stderr


def rollout_variables(farm: Path, inventory: Path, home: Path) -> dict[str, dict]:
    """{host: {variable: value}} of the rollout play's own variables for each node of `inventory`,
    shown by `debug`, which connects to nothing."""
    plays = yaml.safe_load((farm / "rollout.yml").read_text(encoding="utf-8"))
    names = ("drain_argv", "undrain_argv", "invoke", "deploy_environment", "balancer", "balancer_windows")
    probe = [{
        "name": "Show the rollout's variables", "hosts": "farm_nodes", "gather_facts": False,
        "vars": plays[1]["vars"],
        "tasks": [{"name": "Show", "ansible.builtin.debug": {"msg": {n: f"{{{{ {n} }}}}" for n in names}}}],
    }]  # fmt: skip
    (home / "probe.yml").write_text(yaml.safe_dump(probe), encoding="utf-8")
    result = subprocess.run(
        [PLAYBOOK_BIN, "-i", inventory, home / "probe.yml"],
        cwd=home, env={**ansible_env(home), "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json"},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    return {
        host: value["msg"]
        for task in json.loads(result.stdout)["plays"][0]["tasks"]
        for host, value in task["hosts"].items()
    }


def test_windows_nodes_get_appcmd_and_invoke_argv_with_their_backslashes(farm_render, tmp_path):
    """The example inventory's Windows nodes: a Jinja string '\\a' can be a BEL character, as in
    inetsrv\\appcmd.exe; the first node alone migrates."""
    farm = farm_render / "iishost" / "rollout"
    shown = rollout_variables(farm, farm / "inventory.example.yml", tmp_path)
    slug = yaml.safe_load((farm_render / "invoke.yaml").read_text(encoding="utf-8"))["project"]["slug"]
    appcmd = r"C:\Windows\System32\inetsrv\appcmd.exe"
    server = f"/[name='{slug}'].[address='web01.corp.example']"
    assert shown["web01"]["drain_argv"] == [
        appcmd, "set", "config", "-section:webFarms", server + ".enabled:false", "/commit:apphost"
    ]  # fmt: skip
    assert shown["web01"]["undrain_argv"][4] == server + ".enabled:true"
    assert shown["web01"]["invoke"] == rf"C:\sites\{slug}\.venv\Scripts\invoke.exe"
    assert shown["web01"]["balancer_windows"] is True
    assert shown["web01"]["deploy_environment"] == {"INVOKE_DEPLOY_MIGRATE": "true"}
    assert shown["web02"]["deploy_environment"] == {"INVOKE_DEPLOY_MIGRATE": "false"}


def test_another_balancer_runs_its_own_argv_on_the_controller(farm_render, tmp_path):
    """Hooks instead of ARR: the node's own argv lists, run where no balancer host is named: here."""
    hook = ["lbctl", "disable", "{{ rollout_farm_address }}"]
    inventory = {"farm_nodes": {"hosts": {"web01": {"rollout_farm_address": "10.0.0.11"}}, "vars": {
        "rollout_project": "/srv/site", "rollout_health_url": "http://10.0.0.11/health/",
        "rollout_windows": False, "rollout_drain_argv": hook,
        "rollout_undrain_argv": ["lbctl", "enable", "{{ rollout_farm_address }}"],
    }}}  # fmt: skip
    (tmp_path / "hooks.yml").write_text(yaml.safe_dump(inventory), encoding="utf-8")
    shown = rollout_variables(farm_render / "iishost" / "rollout", tmp_path / "hooks.yml", tmp_path)["web01"]
    assert shown["drain_argv"] == ["lbctl", "disable", "10.0.0.11"]
    assert shown["undrain_argv"] == ["lbctl", "enable", "10.0.0.11"]
    assert (shown["balancer"], shown["balancer_windows"]) == ("localhost", False)
    assert shown["invoke"] == "/srv/site/.venv/bin/invoke"


# ---- three local nodes ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fetch(url: str, timeout: float = 10) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace")


def wait_for_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


def changing_calls(state: Path) -> list[list[str]]:
    """The fake appcmd's and icacls' calls (their calls.log) that change something: not `list`, not
    a bare `icacls PATH` read."""
    log = state / "calls.log"
    calls = (
        [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()] if log.exists() else []
    )
    return [c for c in calls if c[0] == "appcmd" and c[1] != "list" or c[0] == "icacls" and len(c) > 2]


def farm_servers(arr_state: Path) -> dict[str, str]:
    """{address: enabled} of the fake ARR's farm."""
    root = ET.parse(arr_state / "applicationHost.config").getroot()
    farm = root.find(f"webFarms/webFarm[@name='{FARM}']")
    return {s.get("address"): s.get("enabled") for s in farm.findall("server")}


class Front(http.server.ThreadingHTTPServer):
    """The farm's public address: each GET goes to the next server ARR has enabled (round robin),
    502 when none is. Only what the rollout needs of ARR: routing to enabled servers."""

    def __init__(self, arr_state: Path, ports: dict[str, int]):
        self.arr_state, self.ports, self.turn = arr_state, ports, itertools.count()
        super().__init__(("127.0.0.1", 0), FrontHandler)


class FrontHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's name)
        front: Front = self.server
        enabled = [a for a, on in farm_servers(front.arr_state).items() if on == "true"]
        status, body = 502, b"no server of the farm is enabled"
        if enabled:
            port = front.ports[enabled[next(front.turn) % len(enabled)]]
            status, text = fetch(f"http://127.0.0.1:{port}{self.path}")
            body = text.encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def install_fakes(project: Path, bin_dir: Path) -> None:
    """The project's fake appcmd/icacls/schtasks as commands (iishost/tests/test_deploy_tasks.py)."""
    bin_dir.mkdir()
    (bin_dir / "python").symlink_to(sys.executable)
    for tool in ("appcmd", "icacls", "schtasks"):
        source = (project / "iishost/tests/fakes" / f"{tool}.py").read_text(encoding="utf-8")
        (bin_dir / tool).write_text(
            f"#!{bin_dir / 'python'}\n{source.split(chr(10), 1)[1]}", encoding="utf-8"
        )
        (bin_dir / tool).chmod(0o755)


def fake_iis(project: Path, state: Path) -> None:
    """An IIS with HttpPlatformHandler installed (the fake appcmd's empty server, plus the module)."""
    state.mkdir()
    empty = (project / "iishost/tests/fakes/appcmd.py").read_text(encoding="utf-8")
    empty = empty.split('EMPTY = """', 1)[1].split('"""', 1)[0].replace("\\\\", "\\")
    (state / "applicationHost.config").write_text(
        empty.replace("<modules />", '<modules><add name="httpPlatformHandler" /></modules>'),
        encoding="utf-8",
    )


@pytest.fixture(scope="module")
def farm_project(template_repo, tmp_path_factory) -> Path:
    """A farm project, bootstrapped once: its venv serves every node of every test."""
    project = render(template_repo, tmp_path_factory.mktemp("farm") / "proj", farm=True)
    result = bootstrap(project)
    assert result.returncode == 0, result.stdout + result.stderr
    return project


@pytest.fixture
def farm(farm_project, tmp_path, request):
    """Three nodes rolled out to v1 by the playbook, served, all enabled in ARR. Parametrized
    indirectly with {"lacks_key": NODE}: that node's .env lacks the key v2's entry point needs;
    {"stray_static": NODE}: that node's folder holds a file v2's collectstatic picks up there only."""
    lacks_key = getattr(request, "param", {}).get("lacks_key")
    stray_static = getattr(request, "param", {}).get("stray_static")
    ignore = shutil.ignore_patterns(".venv", "__pycache__", ".pytest_cache", ".ruff_cache")
    origin = tmp_path / "origin"
    shutil.copytree(farm_project, origin, ignore=ignore)
    git("init", "-q", "-b", "main", cwd=origin)
    git("add", "-A", cwd=origin)
    git("commit", "-q", "-m", "v1", cwd=origin)
    git("tag", "v1", cwd=origin)
    slug = yaml.safe_load((origin / "invoke.yaml").read_text(encoding="utf-8"))["project"]["slug"]
    home = origin / slug / "templates" / "home.html"
    home.write_text(home.read_text(encoding="utf-8").replace("</h1>", f"</h1>\n  <p>{V2_TEXT}</p>"))
    asgi = origin / slug / "asgi.py"
    asgi.write_text(asgi.read_text(encoding="utf-8") + V2_ASGI, encoding="utf-8")
    settings = origin / slug / "settings.py"
    settings.write_text(
        settings.read_text() + '\nSTATICFILES_DIRS = [BASE_DIR / "assets"]\n', encoding="utf-8"
    )
    (origin / "assets").mkdir()
    (origin / "assets" / "site.css").write_text("h1 { color: teal; }\n", encoding="utf-8")
    git("add", "-A", cwd=origin)
    git(
        "commit",
        "-q",
        "-m",
        "v2: home page text, a stylesheet; the app needs ROLLOUT_FEATURE_KEY",
        cwd=origin,
    )
    git("tag", "v2", cwd=origin)

    bin_dir, shared = tmp_path / "bin", tmp_path / "shared"
    install_fakes(farm_project, bin_dir)
    (shared / "media").mkdir(parents=True)
    path = f"{bin_dir}{os.pathsep}{BIN}{os.pathsep}{os.environ.get('PATH', '')}"
    arr = tmp_path / "arr"
    fake_iis(farm_project, arr)
    appcmd = [str(bin_dir / "appcmd"), "set", "config", "-section:webFarms"]
    arr_env = {"PATH": path, "FAKE_IIS_DIR": str(arr)}
    subprocess.run([*appcmd, f"/+[name='{FARM}']", "/commit:apphost"], env=arr_env, check=True)

    ports = {name: free_port() for name in NODES}
    front = Front(arr, ports)
    threading.Thread(target=front.serve_forever, daemon=True).start()
    front_url = f"http://127.0.0.1:{front.server_address[1]}/health/"

    env_file = (farm_project / ".env").read_text(encoding="utf-8")
    nodes, emulators, logs = {}, [], []
    for name in NODES:
        node = tmp_path / name
        git("clone", "-q", str(origin), str(node), cwd=tmp_path)
        git("checkout", "-q", "--detach", "v1", cwd=node)
        if name == stray_static:  # left behind in this server's folder, not in git
            (node / "assets").mkdir()
            (node / "assets" / "left-behind.css").write_text("p { color: red; }\n", encoding="utf-8")
        (node / ".venv").symlink_to(farm_project / ".venv", target_is_directory=True)
        # What every server of a farm shares (iishost/docs/farm.md): the secret key (.env's), the
        # database and the media folder.
        extra = f"DATABASE_URL=sqlite:///{shared / 'db.sqlite3'}\nDJANGO_MEDIA_ROOT={shared / 'media'}\n"
        extra += "" if name == lacks_key else "ROLLOUT_FEATURE_KEY=k3y\n"
        (node / ".env").write_text(env_file + extra, encoding="utf-8")
        fake_iis(farm_project, node / "iis")
        subprocess.run(
            [*appcmd, f"/+[name='{FARM}'].[address='{name}']", "/commit:apphost"], env=arr_env, check=True
        )
        node_env = {"PATH": path, "HOME": str(tmp_path), "PYTHONUTF8": "1", "LC_ALL": "C.UTF-8"}
        log = (tmp_path / f"{name}-emulator.log").open("w")
        logs.append(log)
        serve = [
            node / ".venv/bin/python",
            "-m",
            "iishost.emulator",
            "--site-root",
            node,
            "--port",
            str(ports[name]),
        ]
        # IIS serves the new code after the recycle `invoke deploy` runs: so does the emulator.
        serve += ["--recycle-signal", node / "iis" / "recycled.log"]
        emulators.append(
            subprocess.Popen(serve, cwd=node, env=node_env, stdout=log, stderr=subprocess.STDOUT)
        )
        nodes[name] = {
            "rollout_project": str(node),
            "rollout_health_url": f"http://127.0.0.1:{ports[name]}/health/",
            "rollout_environment": {
                "PATH": path, "FAKE_IIS_DIR": str(node / "iis"), "PYTHONUTF8": "1",
                # What the public name reaches (a farm node's default deploy.check_url): the front.
                "INVOKE_DEPLOY_CHECK_URL": front_url, "INVOKE_DEPLOY_CHECK_TIMEOUT": "30",
            },
        }  # fmt: skip
    local = {
        "ansible_connection": "local",
        "ansible_python_interpreter": sys.executable,
        "rollout_windows": False,
    }
    balancer = {**local, "rollout_appcmd": str(bin_dir / "appcmd"), "rollout_environment": arr_env}
    inventory = {"all": {
        "hosts": {"arr": balancer},
        "children": {"farm_nodes": {"hosts": nodes, "vars": {
            **local, "rollout_balancer": "arr", "rollout_farm": FARM,
            "rollout_drain_seconds": 0, "rollout_health_retries": 4, "rollout_health_delay": 1,
        }}},
    }}  # fmt: skip
    (tmp_path / "inventory.yml").write_text(yaml.safe_dump(inventory), encoding="utf-8")

    def rollout(release: str) -> subprocess.CompletedProcess:
        plays = tmp_path / f"plays-{release}"
        env = {
            **ansible_env(tmp_path),
            "ANSIBLE_CALLBACKS_ENABLED": "community.general.log_plays",
            "ANSIBLE_LOG_FOLDER": str(plays),
        }
        return subprocess.run(
            [PLAYBOOK_BIN, "-i", tmp_path / "inventory.yml", origin / "iishost/rollout/rollout.yml",
             "-e", f"release={release}"],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600,
        )  # fmt: skip

    try:
        for name in NODES:
            wait_for_port(ports[name])
        first = rollout("v1")
        assert first.returncode == 0, first.stdout + first.stderr
        yield {
            "rollout": rollout, "ports": ports, "arr": arr, "tmp": tmp_path, "front": front_url,
            "nodes": {name: tmp_path / name for name in NODES},
        }  # fmt: skip
    finally:
        front.shutdown()
        for process in emulators:
            process.terminate()
        for process in emulators:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        for log in logs:
            log.close()


def deploy_outputs(plays: Path, host: str) -> list[str]:
    """The stdout of each `invoke deploy` Ansible ran on host (community.general.log_plays' file:
    entries `time - playbook - task - action - category - data`, data the JSON result)."""
    outputs = []
    for entry in (plays / host).read_text(encoding="utf-8").split("\n\n"):
        fields = entry.split(" - ", 5)
        if len(fields) == 6 and fields[2].startswith("Run invoke deploy") and fields[4] == "OK":
            data = fields[5].rsplit(" => ", 1)[-1]
            outputs.append(json.loads(data)["stdout"])
    return outputs


def task_hosts(transcript: str, task: str) -> dict[str, list[str]]:
    """{"ok": [host, ...], "skipping": [...], ...} of one task, from ansible-playbook's transcript."""
    hosts: dict[str, list[str]] = {}
    for block in transcript.split(f"TASK [{task}]")[1:]:
        for line in block.split("\nTASK [", 1)[0].split("\nPLAY", 1)[0].splitlines():
            status, _, rest = line.partition(": [")
            if rest and status in {"ok", "changed", "skipping", "fatal", "failed"}:
                hosts.setdefault(status, []).append(rest.split("]")[0].split(" -> ")[0])
    return hosts


def home_page(port: int) -> tuple[int, str]:
    return fetch(f"http://127.0.0.1:{port}/")


@pytest.mark.slow
def test_every_node_rolls_to_the_new_release_with_one_migrate(farm):
    assert all(
        home_page(port)[0] == 200 and V2_TEXT not in home_page(port)[1] for port in farm["ports"].values()
    )
    result = farm["rollout"]("v2")
    assert result.returncode == 0, result.stdout + result.stderr
    for name, port in farm["ports"].items():
        status, body = home_page(port)
        assert status == 200 and V2_TEXT in body, (name, status, body[-500:])
    deploys = {name: deploy_outputs(farm["tmp"] / "plays-v2", name) for name in NODES}
    assert all(len(outputs) == 1 for outputs in deploys.values()), deploys
    migrated = [name for name, (out,) in deploys.items() if "manage.py migrate --noinput" in out]
    assert migrated == ["node1"], "migrations run once per rollout, on its first node"
    assert farm_servers(farm["arr"]) == {name: "true" for name in NODES}
    # Each node was out of the balancer while it deployed, and back after: two ARR changes per node.
    arr_changes = [c[4] for c in changing_calls(farm["arr"]) if c[1:3] == ["set", "config"]][-6:]
    assert arr_changes == [
        f"/[name='{FARM}'].[address='{name}'].enabled:{state}"
        for name in NODES
        for state in ("false", "true")
    ]
    # Static files compared with node 1's where /health/ names them (X-Static-Manifest), else said so.
    with urllib.request.urlopen(f"http://127.0.0.1:{farm['ports']['node1']}/health/", timeout=10) as answer:
        manifest = answer.headers.get("X-Static-Manifest")
    compared = task_hosts(result.stdout, "Compare the static files with the first node's")
    if manifest:
        assert compared == {"ok": ["node2", "node3"], "skipping": ["node1"]}, compared
    else:
        assert compared == {"skipping": list(NODES)}, compared
        assert all(f"{name}: /health/ sent no X-Static-Manifest header" in result.stdout for name in NODES)


@pytest.mark.slow
@pytest.mark.parametrize("farm", [{"lacks_key": "node2"}], indirect=True)
def test_a_node_failing_its_health_check_stops_the_rollout(farm):
    node3_before = len(changing_calls(farm["nodes"]["node3"] / "iis"))
    result = farm["rollout"]("v2")
    transcript = result.stdout + result.stderr
    (farm["tmp"] / "transcript-b.txt").write_text(transcript, encoding="utf-8")
    assert result.returncode != 0, transcript
    assert "node2 failed at \"Check the node's health from the controller" in transcript
    # Node 3 untouched: not drained, not checked out, not deployed (its fake IIS saw no change).
    assert task_hosts(result.stdout, "Take the node out of the balancer") == {"changed": ["node1", "node2"]}
    assert task_hosts(result.stdout, "Run invoke deploy") == {"changed": ["node1", "node2"]}
    assert len(changing_calls(farm["nodes"]["node3"] / "iis")) == node3_before
    assert git("describe", "--tags", cwd=farm["nodes"]["node3"]).strip() == "v1"
    # Node 2 stays out of the balancer; nodes 1 (v2) and 3 (v1) still answer, and so does the farm.
    assert farm_servers(farm["arr"]) == {"node1": "true", "node2": "false", "node3": "true"}
    status, body = home_page(farm["ports"]["node1"])
    assert status == 200 and V2_TEXT in body
    status, body = home_page(farm["ports"]["node3"])
    assert status == 200 and V2_TEXT not in body
    assert home_page(farm["ports"]["node2"])[0] == 502
    assert all(fetch(farm["front"])[0] == 200 for _ in range(4))


@pytest.mark.slow
@pytest.mark.parametrize("farm", [{"stray_static": "node3"}], indirect=True)
def test_a_node_with_other_static_files_stops_the_rollout(farm):
    """Static files must be the same on every node: a file left in node 3's folder makes its
    collectstatic differ from node 1's, which /health/'s X-Static-Manifest shows."""
    with urllib.request.urlopen(f"http://127.0.0.1:{farm['ports']['node1']}/health/", timeout=10) as answer:
        if not answer.headers.get("X-Static-Manifest"):
            pytest.skip(
                "this project's /health/ sends no X-Static-Manifest header (the farm settings add it)"
            )
    result = farm["rollout"]("v2")
    transcript = result.stdout + result.stderr
    assert result.returncode != 0, transcript
    assert 'node3 failed at "Compare the static files with the first node\'s"' in transcript
    assert "node3 serves other static files than node1" in transcript
    assert farm_servers(farm["arr"]) == {"node1": "true", "node2": "true", "node3": "false"}
    assert all(V2_TEXT in home_page(port)[1] for port in farm["ports"].values())
