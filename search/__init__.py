"""Search: layer->array mapping and NAS (future work: see the issues)."""
