"""`dlarena`: parse, dispatch to a command, turn a user's mistake into one line and exit 2."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from dlarena.cli import calibrate, commands, machines, output
from dlarena.cli.parser import build_parser
from dlarena.errors import UsageError


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        handlers = {"run": commands.run, "check": commands.check, "list": commands.listing,
                    "report": commands.report, "compare": commands.compare, "env": commands.env,
                    "export": machines.export, "import": machines.import_bundle,
                    "calibrate": calibrate.calibrate}
        handler = handlers[args.command]
        return handler(args)
    except UsageError as error:
        # One line, whatever a file name or a value in the message holds.
        print(f"dlarena: error: {output.printable(str(error))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("dlarena: interrupted; finished cells are stored: run the same command to resume",
              file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
