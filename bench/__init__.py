"""Benchmark suite: seeding, load generation, baseline app, reports (`python -m bench`)."""
