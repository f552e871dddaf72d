"""The federated engine: one round loop, executors, cost accounting, checkpoints."""
