"""Choosing a training setup: hyper-parameter search with Optuna (`fedasr tune`) and grids of
runs that reuse finished ones (`fedasr sweep`), both judged by WER and cost
(fedasr.report.cost)."""
