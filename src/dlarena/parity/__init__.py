"""Proof that two implementations compute the same function (worker-side probe, comparison)."""
