"""Entry point: runs the Typer app and turns loopml errors into one line and exit code 2."""

from __future__ import annotations

import os
import sys

USER_ERROR = 2
INTERNAL_ERROR = 1


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args or os.environ.get("LOOPML_DEBUG") == "1"
    from loopml.cli._app import app
    from loopml.errors import LoopmlError

    try:
        app(args=args, prog_name="loopml")
    except LoopmlError as error:
        if debug:
            raise
        _say(f"error: {error}")
        sys.exit(USER_ERROR)
    except KeyboardInterrupt:
        _say("interrupted")
        sys.exit(130)
    except Exception as error:
        if debug:
            raise
        _say(
            f"internal error: {type(error).__name__}: {error} "
            "(this is a bug in loopml; run again with --debug for the traceback)"
        )
        sys.exit(INTERNAL_ERROR)


def _say(message: str) -> None:
    print(message, file=sys.stderr)
