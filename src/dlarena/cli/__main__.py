import sys

from dlarena.cli.main import main

sys.exit(main())
