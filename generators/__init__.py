"""Generators: specs, design-space enumeration and Verilog emission."""
