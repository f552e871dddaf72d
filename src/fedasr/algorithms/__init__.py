"""Federated algorithms: a client half (runs on a worker) and a server half (pure maths)."""
