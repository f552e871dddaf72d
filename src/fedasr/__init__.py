"""fedasr: federated learning for automatic speech recognition."""

__version__ = "0.1.0"
