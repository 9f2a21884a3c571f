"""Timing loop and memory probes (worker side, stdlib only); statistics and verdicts."""
