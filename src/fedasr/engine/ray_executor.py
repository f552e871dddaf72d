"""Long-lived Ray actors, each with its own WorkerContext: the process pool, spread over a cluster.

Per round the broadcast goes into the object store once (`ray.put`) and every actor reads that
one copy; actors take whole shards (never one task per client), run them with
`executors.run_shard` and return one partial aggregate per shard, which come back in shard
order. Each shard runs on one actor with `spec.threads` torch threads, exactly as in the serial
executor, so the merged round is bit-identical to it for the same seed.

An actor that dies (crash, OOM kill, lost node) takes only its shard's clients down: they are
reported failed, the actor is replaced and the run goes on with the others meanwhile. Every
actor opens the feature cache and the run's tokenizer at the driver's paths, so on a multi-node
cluster both must live on a filesystem all nodes share.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from fedasr.algorithms.base import Broadcast, ClientHalf, ClientTask, RoundAccumulator
from fedasr.engine.ray_actor import ActorInfo, ShardActor, WireBroadcast
from fedasr.engine.ray_session import cluster_cpus, connect, import_ray
from fedasr.engine.shards import failed_shard
from fedasr.engine.worker import WorkerSpec
from fedasr.errors import ConfigError, FedasrError

log = logging.getLogger(__name__)
STARTUP_TIMEOUT_S = 300.0
WATCHDOG_POLL_S = 1.0


class RayActorStartError(FedasrError):
    """Actors could not be started: no free CPUs for them, or a node cannot build a worker."""


@dataclass
class _Slot:
    actor: Any
    info: ActorInfo


@dataclass(frozen=True)
class _Job:
    slot: int
    shard: int
    started: float


class RayExecutor:
    """`workers` actors of `spec.threads` CPUs each. With `executor.workers: 0` in the config
    (which setup resolves to this machine's cores) there is one actor per `spec.threads` CPUs
    of the whole cluster instead."""

    def __init__(self, spec: WorkerSpec, workers: int, ray_address: str | None = None) -> None:
        self._ray = import_ray()
        self.spec = with_absolute_paths(spec)
        self._slots: dict[int, _Slot] = {}
        self._starting: dict[Any, tuple[int, Any]] = {}  # ready ref -> (slot, actor handle)
        self._timed_out: dict[int, str] = {}
        configured = int(spec.config.get("executor", {}).get("workers", workers))
        self._owns_session = connect(self._ray, ray_address, configured * spec.threads)
        try:
            self.size = self._actor_count(workers if configured else 0)
            self._remote = self._ray.remote(
                num_cpus=spec.threads,
                max_restarts=0,  # a dead actor is replaced by us, with its shard reported failed
                max_task_retries=0,
                scheduling_strategy="SPREAD",  # one actor per node first: memory bandwidth
            )(ShardActor)
            started = time.perf_counter()
            self._start_all()
            self.startup_s = time.perf_counter() - started
        except BaseException:
            self.close()
            raise
        nodes = len({info.node_id for info in self.actor_infos})
        log.info(
            "Ray: %d actor(s) on %d node(s), ready in %.1f s", self.size, nodes, self.startup_s
        )

    @property
    def actor_infos(self) -> list[ActorInfo]:
        return [self._slots[slot].info for slot in sorted(self._slots)]

    # ----------------------------------------------------------------------------- start-up
    def _actor_count(self, workers: int) -> int:
        cpus, threads = cluster_cpus(self._ray), self.spec.threads
        if workers == 0:
            return max(1, cpus // threads)
        if workers * threads > cpus:
            raise ConfigError(
                f"executor.workers={workers} x executor.threads_per_worker={threads} needs "
                f"{workers * threads} CPUs but the Ray cluster has {cpus}; lower them or add nodes"
            )
        return workers

    def _spawn(self, slot: int) -> Any:
        actor = self._remote.remote(self.spec)
        ready = actor.info.remote()
        self._starting[ready] = (slot, actor)
        return ready

    def _start_all(self) -> None:
        refs = [self._spawn(slot) for slot in range(self.size)]
        ready, late = self._ray.wait(refs, num_returns=len(refs), timeout=STARTUP_TIMEOUT_S)
        if late:
            raise RayActorStartError(
                f"only {len(ready)} of {len(refs)} Ray actors started within "
                f"{STARTUP_TIMEOUT_S:.0f} s: no node had {self.spec.threads} free CPU(s) for "
                "the others (`ray status` shows what is in use)"
            )
        for ref in ready:
            self._admit(ref)

    def _admit(self, ready: Any) -> int:
        """A started actor joins the pool, or its start-up error ends the run with its node."""
        slot, actor = self._starting.pop(ready)
        try:
            info: ActorInfo = self._ray.get(ready)
        except self._ray.exceptions.RayError as err:  # e.g. fedasr not importable on its node
            raise RayActorStartError(f"a Ray actor died while starting:\n{err}") from None
        if info.error is not None:
            self._kill(actor)
            raise RayActorStartError(
                f"Ray node {info.host} (node id {info.node_id[:12]}) could not build a worker: "
                f"{info.error}"
            )
        self._slots[slot] = _Slot(actor, info)
        return slot

    def wait_for_actors(self, timeout: float = STARTUP_TIMEOUT_S) -> None:
        """Block until replacement actors still starting have joined (rounds never wait for
        them; tests and benchmarks may want the whole pool)."""
        if self._starting:
            refs = list(self._starting)
            ready, _ = self._ray.wait(refs, num_returns=len(refs), timeout=timeout)
            for ref in ready:
                self._admit(ref)

    # ----------------------------------------------------------------------------- a round
    def run(
        self, shards: Sequence[Sequence[ClientTask]], broadcast: Broadcast, client: ClientHalf
    ) -> list[RoundAccumulator]:
        # one copy in the object store, whatever the cohort size
        wire = self._ray.put(WireBroadcast.of(broadcast, client))
        pending = deque(enumerate(shards))
        idle = deque(sorted(self._slots))
        running: dict[Any, _Job] = {}
        results: dict[int, RoundAccumulator] = {}
        while pending or running:
            while pending and idle:
                slot, (index, shard) = idle.popleft(), pending.popleft()
                running[self._dispatch(slot, index, shard, wire)] = _Job(
                    slot, index, time.perf_counter()
                )
            if not running:  # every actor died and its replacement is still starting
                idle.append(self._await_replacement())
                continue
            waiting = [*running, *self._starting]
            done, _ = self._ray.wait(waiting, num_returns=1, timeout=WATCHDOG_POLL_S)
            for ref in done:
                if ref in self._starting:
                    idle.append(self._admit(ref))
                    continue
                job = running.pop(ref)
                results[job.shard] = self._collect(ref, job, shards[job.shard])
                if job.slot in self._slots:
                    idle.append(job.slot)
            self._kill_overdue(running, shards)
        return [results[index] for index in range(len(shards))]

    def _dispatch(self, slot: int, index: int, shard: Sequence[ClientTask], wire: Any) -> Any:
        return self._slots[slot].actor.run.remote(index, list(shard), wire)

    def _collect(self, ref: Any, job: _Job, shard: Sequence[ClientTask]) -> RoundAccumulator:
        exceptions = self._ray.exceptions
        try:
            _, acc = self._ray.get(ref)
            return acc
        except exceptions.RayTaskError as err:  # the shard raised; the actor itself is fine
            log.warning(
                "shard %d raised on its Ray actor; its clients are left out:\n%s", job.shard, err
            )
            return failed_shard(shard, f"shard raised: {_first_line(err)}")
        except exceptions.RayError as err:  # the actor (or its node) is gone
            host = self._slots[job.slot].info.host
            reason = self._timed_out.pop(job.slot, None) or f"Ray actor on {host} died"
            log.warning(
                "%s during shard %d (%s); its %d client(s) are left out, the actor is replaced",
                reason, job.shard, _first_line(err), len(shard),
            )  # fmt: skip
            self._replace(job.slot)
            return failed_shard(shard, reason)

    def _replace(self, slot: int) -> None:
        dead = self._slots.pop(slot)
        self._kill(dead.actor)
        self._spawn(slot)  # joins the pool when ready; the round goes on meanwhile

    def _await_replacement(self) -> int:
        if self._starting:
            done, _ = self._ray.wait(list(self._starting), num_returns=1, timeout=STARTUP_TIMEOUT_S)
            if done:
                return self._admit(done[0])
        raise RayActorStartError(
            f"every Ray actor died and none could be restarted within {STARTUP_TIMEOUT_S:.0f} s "
            f"(no node has {self.spec.threads} free CPU(s); `ray status` shows the cluster)"
        )

    def _kill_overdue(
        self, running: dict[Any, _Job], shards: Sequence[Sequence[ClientTask]]
    ) -> None:
        """An actor stuck past every client's timeout (a hung library call) is killed; its
        shard then fails like any dead actor's."""
        timeout = self.spec.config.get("client", {}).get("timeout_s")
        if not timeout:
            return
        now = time.perf_counter()
        for job in running.values():
            limit = timeout * len(shards[job.shard]) + 60.0
            if job.slot not in self._timed_out and now - job.started > limit:
                self._timed_out[job.slot] = "worker killed after timeout"
                self._kill(self._slots[job.slot].actor)

    # ----------------------------------------------------------------------------- shutdown
    def _kill(self, actor: Any) -> None:
        try:
            self._ray.kill(actor, no_restart=True)
        except Exception as err:  # already gone: nothing left to stop
            log.debug("ray.kill: %s", err)

    def close(self) -> None:
        """Stop this executor's actors; disconnect only from a session it opened itself (for
        a local instance that also stops Ray; an attached cluster keeps running)."""
        for slot in list(self._slots.values()):
            self._kill(slot.actor)
        for _, actor in list(self._starting.values()):
            self._kill(actor)
        self._slots, self._starting = {}, {}
        if self._owns_session and self._ray.is_initialized():
            self._ray.shutdown()
        self._owns_session = False


def with_absolute_paths(spec: WorkerSpec) -> WorkerSpec:
    """Actors do not share the driver's working directory (on other nodes, not even its files
    unless shared), so the paths they open are made absolute first."""
    train = replace(
        spec.train,
        store_root=str(Path(spec.train.store_root).resolve()),
        tokenizer_dir=str(Path(spec.train.tokenizer_dir).resolve()),
    )
    return replace(spec, train=train)


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__
