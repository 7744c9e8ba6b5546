"""`./hub start`: the whole Hub from one command, and one signal stops it (issue 12)."""

import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

from django.conf import settings


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 -- loopback
        return response.read().decode()


def test_links_follow_the_address_and_a_sigterm_stops_web_server_and_worker(tmp_path):
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith(("HUB_", "DATABASE_", "DJANGO_"))}
    env.update(HUB_ADDRESS=f"127.0.0.1:{port}", DATABASE_URL=f"sqlite:///{tmp_path / 'hub.sqlite3'}")
    hub = subprocess.Popen(
        [str(Path(settings.BASE_DIR) / "hub"), "start"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        deadline, page = time.monotonic() + 120, ""
        while time.monotonic() < deadline and f"http://127.0.0.1:{port}/rendez-vous/" not in page:
            time.sleep(1)
            try:
                page = get(f"http://127.0.0.1:{port}/dev/messages/")
            except OSError:
                continue
        # The demo's messages, sent by the worker, link to where the Hub listens.
        assert f"http://127.0.0.1:{port}/rendez-vous/" in page
        assert "localhost:8000" not in page
        hub.send_signal(signal.SIGTERM)  # to the script alone, as a supervisor would
        output, _ = hub.communicate(timeout=60)
        time.sleep(1)
        try:
            os.killpg(hub.pid, 0)
            survivors = True
        except ProcessLookupError:
            survivors = False
        assert not survivors, f"a process of ./hub start outlived it:\n{output[-2000:]}"
        try:
            get(f"http://127.0.0.1:{port}/admin/login/")
            answered = True
        except OSError:
            answered = False
        assert not answered
    finally:
        try:
            os.killpg(hub.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
