"""Benchmarks for collab. Each lives in its own package and runs as `python -m benchmarks.<name>`."""
