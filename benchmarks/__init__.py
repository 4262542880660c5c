"""Benchmarks of generated projects: `invoke bench` (see run.py). Loopback only, bounded in time."""
