"""The coordinator's run: suites, the plan (request -> cells), the runner (cells -> store)
and the environment fingerprint."""
