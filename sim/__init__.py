"""Simulation: Verilator harnesses, cocotb testbenches, LUTs and error metrics."""
