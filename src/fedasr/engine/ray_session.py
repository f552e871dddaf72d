"""Importing Ray, and connecting to it: a local instance this run owns, or a cluster it joins.

Kept apart from the executor so the rules about whose Ray session this is live in one place:
the executor disconnects only from a session it opened itself (for a local instance that also
stops it); a cluster it attached to keeps running, and a session the caller opened before
(`ray.init` in a notebook) is used as it is and left open.
"""

from __future__ import annotations

import logging
import os
from types import ModuleType
from typing import Any

from fedasr.engine.worker import default_workers
from fedasr.errors import ConfigError, MissingExtraError

# Set before `import ray`: Ray reads them once, at import or when it starts its processes.
RAY_ENV = {
    "RAY_USAGE_STATS_ENABLED": "0",  # no usage-stats prompt or upload (machines may be offline)
    "RAY_DEDUP_LOGS": "0",  # print actor log lines as they come, not batched and collapsed
}


def import_ray() -> ModuleType:
    for name, value in RAY_ENV.items():
        os.environ.setdefault(name, value)
    try:
        import ray
    except ImportError:
        raise MissingExtraError("executor.kind=ray", "ray", "ray") from None
    return ray


def connect(ray: Any, address: str | None, cpus: int) -> bool:
    """Make sure this process is a Ray driver; True when it opened the session itself.

    `address` None starts a private local instance with at least `cpus` CPUs (so every actor
    fits even when more workers than cores are asked for); anything else ("auto", "host:port",
    "ray://host:port") attaches to a running cluster.
    """
    if ray.is_initialized():
        return False
    quiet = {"logging_level": logging.WARNING, "log_to_driver": True}
    if address is None:
        ray.init(
            address="local",  # never attach by surprise to another Ray instance on this machine
            num_cpus=max(cpus, default_workers()),
            include_dashboard=False,
            **quiet,
        )
        return True
    try:
        ray.init(address=address, **quiet)
    except (ConnectionError, TimeoutError, ValueError, RuntimeError) as err:
        raise ConfigError(
            f"executor.ray_address={address!r}: cannot connect to a Ray cluster there "
            f"({type(err).__name__}: {err}); start one with `ray start --head` or use "
            "executor.ray_address=null for a local instance"
        ) from None
    return True


def cluster_cpus(ray: Any) -> int:
    return int(ray.cluster_resources().get("CPU", 0))
