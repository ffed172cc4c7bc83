"""Hardware: approximate arithmetic, PEs, arrays, banks and the NPU (Amaranth 0.5)."""
