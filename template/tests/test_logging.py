"""logs/django.log stays whole when several worker processes write at once
(HttpPlatformHandler's processesPerApplication runs several)."""

import os
import subprocess
import sys

from iishost import PROJECT_ROOT as ROOT

WRITER = """
import logging, os, sys
import django
django.setup()
log = logging.getLogger("concurrency")
for i in range(int(sys.argv[1])):
    log.warning("writer=%s line=%05d %s", os.getpid(), i, "x" * 80)
"""


def test_concurrent_processes_do_not_lose_or_mangle_lines(production_env, tmp_path):
    production_env.update(
        DJANGO_LOG_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE=os.environ["DJANGO_SETTINGS_MODULE"]
    )
    writers, lines_each = 3, 1500
    processes = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(lines_each)], cwd=ROOT, env=production_env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(writers)
    ]  # fmt: skip
    assert all(p.wait(timeout=120) == 0 for p in processes)
    lines = [
        line
        for path in tmp_path.glob("django.log*")
        for line in path.read_text(encoding="utf-8").splitlines()
    ]
    ours = [line for line in lines if "concurrency:" in line]
    assert len(ours) == writers * lines_each
    assert all(line.endswith("x" * 80) and line.count("writer=") == 1 for line in ours), "interleaved lines"
