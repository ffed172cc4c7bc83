"""Stub PDK and the Yosys synthesis flow."""
