"""Benchmarks that drive the tests' infrastructure (the live deploy, the PostgreSQL HA cluster on
127.0.0.1) and print what it costs: `python -m tests.benchmarks.<name>` from the repository root."""
