"""Benchmarks: one command each, figures in BENCHMARKS.md (benchmarks are not tests)."""
