"""Trust: model-poisoning attacks, robust aggregation, client-level differential privacy with
an accountant, and secure aggregation — engine-independent building blocks on plain tensors
(docs/trust.md)."""
