"""Bare Flask + SQLAlchemy app doing the benchmark workloads' database work."""
