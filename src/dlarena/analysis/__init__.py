"""What the coordinator computes from stored samples: statistics, the stopping rule,
verdicts, derived figures, the metrics' definitions, the physical ceiling and the
calibration simulations. Pure functions of numbers; never imports worker code."""
