"""The names trust's halves and plug-ins share: task tags, result extras, aggregates and the
server state's extras (all `trust.`-prefixed, so they never collide with an algorithm's)."""

ATTACK_TAG = "attack"  # ClientTask.tags: the position of the attack group the client plays
ATTACK_STAT = "trust_attack"  # ClientReport.stats: the same, for the round's record

WEIGHT = "trust.weight"  # ClientResult.extras: the bounded weight w a client sends (DP, SecAgg)
UNCLIPPED = "trust.unclipped"  # ClientResult.extras: DP's clipping bit (+ its noise share)

KEPT = "trust.updates"  # RoundAccumulator.kept: the updates kept whole
DP_SUM = "trust.dp.sum"  # RoundAccumulator.plain: Σ w clip(Δ) (+ client noise)
DP_UNCLIPPED_SUM = "trust.dp.unclipped"  # RoundAccumulator.plain: Σ of the clipping bits

DP_CLIP = "trust.dp.clip_norm"  # ServerState.extras and Broadcast.extras: this round's bound C
DP_NOISE = "trust.dp.noise_multipliers"  # ServerState.extras: z of every round so far
ROBUST_CLIP = "trust.robust.clip_bound"  # ServerState.extras: the tracked quantile bound
