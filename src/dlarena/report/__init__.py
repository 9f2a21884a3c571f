"""Reports read the store only, and ask `measure.stats` / `measure.verdict` for every figure."""
