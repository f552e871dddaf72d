"""Trust's plug-ins (engine/plugins.py): who attacks in a round, and the privacy budget.

`Attackers` tags the tasks of the round's attackers (`ClientTask.tags["attack"]`: the
position of the attack group), chosen by `choose_attackers` from (seed, round, the cohort of
this attempt) — the same clients on every executor and after a resume. The client half reads
the tag on the worker (trust/algorithm.py).

`PrivacyBudget` writes (ε, δ) and what they depend on into every exported model file, and
with `dp.target_action: stop` ends the run cleanly after the last round that keeps ε within
`dp.target_epsilon` (it trained, so it exits 0 and the record says why it stopped).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from fedasr.algorithms.base import ClientTask, ServerState
from fedasr.engine.plugins import Change, Plugin, Progress
from fedasr.trust import keys
from fedasr.trust.attacks import choose_attackers
from fedasr.trust.privacy import PrivacyPlan, noise_history
from fedasr.trust.schema import AttackGroup


class Attackers(Plugin):
    name = "attackers"

    def __init__(self, groups: list[AttackGroup], seed: int, ids: tuple[str, ...]) -> None:
        self.groups, self.seed, self.ids = groups, seed, ids

    def assign(self, round_index: int, tasks: list[ClientTask]) -> list[ClientTask]:
        cohort = [task.index for task in tasks]
        chosen = choose_attackers(self.groups, self.seed, round_index, cohort, self.ids)
        return [
            dataclasses.replace(task, tags={**task.tags, keys.ATTACK_TAG: chosen[task.index]})
            if task.index in chosen
            else task
            for task in tasks
        ]


class PrivacyBudget(Plugin):
    name = "privacy_budget"

    def __init__(self, plan: PrivacyPlan) -> None:
        self.plan = plan
        section = plan.section
        self.target = section.target_epsilon if section.target_action == "stop" else None
        self.next_epsilon: float | None = None  # ε after one more round (stop mode)

    def after_aggregate(self, round_index: int, server: ServerState) -> Change:
        if self.target is not None:
            history = noise_history(server.extras)
            self.next_epsilon = self.plan.epsilon([*history, self.plan.noise_multiplier])
        return Change()

    def after_round(self, progress: Progress) -> Change:
        if self.target is None or self.next_epsilon is None:
            return Change()
        if self.next_epsilon <= self.target:
            return Change()
        reason = (
            f"dp.target_epsilon={self.target:g}: one more round would spend "
            f"epsilon {self.next_epsilon:.4g}"
        )
        return Change(metrics={"privacy_stop": reason}, stop=True)

    def stays_stopped(self, progress: Progress) -> bool:
        """A resumed run with a larger target (or without one) goes on."""
        return (
            self.target is not None
            and self.next_epsilon is not None
            and self.next_epsilon > self.target
        )

    def model_metadata(self, server: ServerState) -> dict[str, Any]:
        return {"privacy": self.plan.summary(noise_history(server.extras))}

    def state_dict(self) -> dict[str, Any]:
        return {"next_epsilon": self.next_epsilon}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        found = state.get("next_epsilon")
        self.next_epsilon = None if found is None else float(found)
