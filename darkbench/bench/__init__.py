"""Latency measurement: backends, timing, statistics, per-layer rooflines (imports torch only when run)."""
