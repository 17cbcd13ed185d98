"""Benchmark harness: our server against a floor and PostGraphile 4 and 5 (`python -m bench`)."""
