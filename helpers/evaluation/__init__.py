"""Benchmarks behind `workbench eval ...`: retrieval over BEIR folders, verification over SciFact-format
files, and SciFact's metrics."""
