"""The AXNet NPU (future work: see the issues)."""
