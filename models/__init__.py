"""PyTorch models and approximate layers (future work: see the issues)."""
