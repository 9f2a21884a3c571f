"""Reports read the store only, and ask `analysis.stats` / `analysis.verdict` for every figure."""
