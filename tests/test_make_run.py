"""`make run` as a person starts and stops it: the platform comes up on loopback, and Ctrl-C stops every process it
started. (CI also walks the newcomer's whole path from a fresh clone: .ci/newcomer-smoke.)"""

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings

from tests.conftest import require_program
from tests.fault_support import free_port

pytestmark = pytest.mark.slow

START_TIMEOUT_S = 180
STOP_WITHIN_S = 15


def descendants(pid: int) -> set[int]:
    children = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children |= {int(child) for child in (task / "children").read_text().split()}
        except OSError:
            continue  # the thread ended meanwhile
    return children.union(*(descendants(child) for child in children))


def is_running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def test_ctrl_c_stops_every_process_make_run_started(tmp_path):
    make = require_program("make")
    port = free_port()
    log = tmp_path / "run.log"
    environment = {
        **{name: value for name, value in os.environ.items() if name not in {"DJANGO_SETTINGS_MODULE", "REDIS_URL"}},
        "DATABASE_URL": f"sqlite:///{tmp_path / 'skintrack.sqlite3'}",
        "DJANGO_MEDIA_ROOT": str(tmp_path / "media"),
        "CELERY_BROKER_DIR": str(tmp_path / "broker"),
    }
    with log.open("w") as output:
        # Its own process group, as a shell gives a foreground job; Ctrl-C signals that group.
        run = subprocess.Popen(
            [make, "run", f"PORT={port}", f"VENV={sys.prefix}"],
            cwd=settings.BASE_DIR,
            env=environment,
            start_new_session=True,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not (answers(f"http://127.0.0.1:{port}/accounts/login/") and log.read_text().count(" ready.") >= 2):
            if run.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"make run did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        started = descendants(run.pid)
        assert len(started) >= 4, "web, classifier, analyst and beat"

        os.killpg(run.pid, signal.SIGINT)
        stopped_by = time.monotonic() + STOP_WITHIN_S
        while (left := {pid for pid in started | {run.pid} if is_running(pid)}) and time.monotonic() < stopped_by:
            run.poll()  # reaps make once it exits
            time.sleep(0.2)
        assert left == set(), f"still running {STOP_WITHIN_S} s after Ctrl-C:\n{log.read_text()[-3000:]}"
        assert "Segmentation fault" not in log.read_text()
        assert not answers(f"http://127.0.0.1:{port}/accounts/login/")
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
        run.wait(timeout=10)
