"""axforge: design approximate neural-network accelerators."""
__all__ = ["__version__"]
__version__ = "0.1.0"
