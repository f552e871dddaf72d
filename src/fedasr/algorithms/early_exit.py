"""Early-exit FL for heterogeneous clients (Ali, Brutti, Falavigna, arXiv 2405.17376;
shared/ALGORITHMS.md §5), as FedAvg configured for it rather than a new aggregation rule.

A client of depth d trains the front-end, blocks and exits 1..d on the sum of its exits' CTC
losses and sends back only those parameters. Every piece already exists in the FedAvg family:
- the depth budget d comes from the client's device profile (`devices:`, fedasr.devices) and
  reaches the worker as `ClientTask.depth`;
- the flat parameter vector is in depth order, so the model cut at exit d is a prefix
  (`ParamLayout.span(d)`): the server half's model spec carries d, and the download, the
  update and the bytes counted are that prefix (`spec.held_coordinates`);
- `WeightedSum` averages each coordinate over the clients that sent it (weighted by examples)
  and the server optimizer leaves coordinates nobody sent untouched, with any optimizer.
What this entry adds is the paper's frozen front-end option (`ModelSpec.freeze_frontend`): the
conv subsampling is neither trained (no gradient, and its backward FLOPs are not spent) nor
uploaded; the update is the slice [frontend_span, span) and is aggregated at that offset.
The registry builds it (algorithms/registry.py).
"""

from __future__ import annotations

from fedasr.algorithms.fedavg import FedAvgOptions


class EarlyExitOptions(FedAvgOptions):
    freeze_frontend: bool = False  # keep the front-end at its initial (or init_from) weights
