"""A throwaway multi-node Ray cluster on this machine, and a driver process to run on it.

Each node is one `ray start --block` process in its own session and temp dir; stopping the
cluster sends SIGTERM to exactly those processes (never `ray stop`, which would also stop
every other Ray instance on a shared machine), so nothing outlives the test. The cluster has
its own authentication token; the driver runs in a fresh process because a Ray driver fixes
its authentication mode and token once per process.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

NODE_START_TIMEOUT_S = 90.0
DRIVER_TIMEOUT_S = 300.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ray_cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "ray.scripts.scripts", *args]


def _start_node(args: list[str], temp: Path, name: str, env: dict[str, str]) -> subprocess.Popen:
    log_path = temp / f"{name}.log"
    command = [
        *_ray_cli("start", "--block"),
        "--num-cpus=1", "--node-ip-address=127.0.0.1", "--disable-usage-stats",
        "--object-store-memory=100000000", f"--temp-dir={temp / name}",
        f"--dashboard-agent-listen-port={free_port()}", *args,
    ]  # fmt: skip
    with log_path.open("w") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    deadline = time.monotonic() + NODE_START_TIMEOUT_S
    while "Ray runtime started" not in log_path.read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            _stop(process)
            raise RuntimeError(f"ray node {name} did not start:\n{log_path.read_text()[-3000:]}")
        time.sleep(0.2)
    return process


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)  # `ray start --block` then stops its own processes
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # its own session: only what it started
            process.wait()


@contextlib.contextmanager
def loopback_cluster(nodes: int = 2) -> Iterator[tuple[str, dict[str, str]]]:
    """Yield the head's address and the environment a driver needs to join."""
    temp = Path(tempfile.mkdtemp(prefix="rc", dir="/tmp"))  # short: Ray's socket paths are capped
    auth = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(16)}  # Ray >= 2.5x
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", **auth}
    port = free_port()
    started: list[subprocess.Popen] = []
    try:
        head = ["--head", f"--port={port}", "--include-dashboard=false"]
        started.append(
            _start_node([*head, f"--ray-client-server-port={free_port()}"], temp, "h", env)
        )
        for index in range(1, nodes):
            started.append(_start_node([f"--address=127.0.0.1:{port}"], temp, f"n{index}", env))
        yield f"127.0.0.1:{port}", env
    finally:
        for process in reversed(started):
            _stop(process)
        shutil.rmtree(temp, ignore_errors=True)


def run_driver(env: dict[str, str], *args: str) -> None:
    """Run ray_cluster_driver.py with `args` in a fresh process; its output on failure."""
    script = Path(__file__).with_name("ray_cluster_driver.py")
    done = subprocess.run(
        [sys.executable, str(script), *args],
        env=env, capture_output=True, text=True, timeout=DRIVER_TIMEOUT_S,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"the cluster driver failed:\n{(done.stdout + done.stderr)[-6000:]}")
