"""`python -m dlarena.worker`: one cell in this process (worker/main.py), then exit."""

from dlarena.isolation import lifeline
from dlarena.worker.main import main

lifeline.exit_now(main())  # the cell ended with its result
