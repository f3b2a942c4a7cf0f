"""Entry point: runs the Typer app and turns loopml errors into one line and exit code 2."""

from __future__ import annotations

import os
import sys

USER_ERROR = 2
INTERNAL_ERROR = 1


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in _options(args) or os.environ.get("LOOPML_DEBUG") == "1"
    args = _without_debug(args)
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


def _options(args: list[str]) -> list[str]:
    """The words before a ``--``: after it every word is an argument, even --debug."""
    return args[: args.index("--")] if "--" in args else args


def _without_debug(args: list[str]) -> list[str]:
    """``args`` with --debug taken out wherever it is, so it works after a command too
    (``loopml data show x --debug``) and not only before it."""
    before = _options(args)
    return [word for word in before if word != "--debug"] + args[len(before) :]


def _say(message: str) -> None:
    print(message, file=sys.stderr)
