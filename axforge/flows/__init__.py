"""Workflows that span the layers below: library characterisation (LUTs + PPA + Pareto plots)."""
