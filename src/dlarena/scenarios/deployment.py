"""What the deployment scenarios promise, read by the worker that measures them and by the
reports that show them."""

from __future__ import annotations

# Every load level of a serve cell runs until its p99 rests on this many requests, or until
# its stated time bound (worker/deployment.py).
P99_REQUESTS = 1000
