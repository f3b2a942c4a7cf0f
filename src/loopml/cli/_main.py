"""Entry point: runs the Typer app and turns loopml errors into one line and exit code 2."""

from __future__ import annotations

import os
import sys
from typing import NoReturn

USER_ERROR = 2
INTERNAL_ERROR = 3  # not 1: that is a command's own "found a problem" (verify, validate...)


# Polars' allocator (jemalloc) keeps freed memory for ten seconds by default, to reuse
# it; a command is short and its reads of a wide file free several times the table's
# size, so that the command's peak would be the sum of them. Read when Polars loads.
POLARS_ALLOCATOR = ("_RJEM_MALLOC_CONF", "dirty_decay_ms:0,muzzy_decay_ms:0")


def main(argv: list[str] | None = None) -> None:
    if "polars" not in sys.modules:
        os.environ.setdefault(*POLARS_ALLOCATOR)
    args = sys.argv[1:] if argv is None else argv
    from loopml._extras import needs_extra
    from loopml._flags import env_flag
    from loopml.cli._app import app
    from loopml.errors import LoopmlError

    try:  # the on/off variables, checked before any work (progress is read late)
        debug = "--debug" in _options(args) or bool(env_flag("LOOPML_DEBUG"))
        env_flag("LOOPML_PROGRESS")
    except LoopmlError as error:
        _say(f"error: {one_line(str(error))}")
        sys.exit(USER_ERROR)
    args = _placed(args)

    try:
        app(args=args, prog_name="loopml")
    except LoopmlError as error:
        if debug:
            raise
        _say(f"error: {one_line(str(error))}")
        sys.exit(USER_ERROR)
    except KeyboardInterrupt:
        _say("interrupted")
        sys.exit(130)
    except (SystemExit, GeneratorExit):
        raise
    except ModuleNotFoundError as error:  # an optional dependency: say which extra has it
        if debug:
            raise
        missing = None if error.name is None else needs_extra(error.name)
        if missing is None:
            _internal(error)
        _say(f"error: {missing}")
        sys.exit(USER_ERROR)
    except BaseException as error:  # also what a library's native code raises on a panic
        if debug:
            raise
        _internal(error)


def _internal(error: BaseException) -> NoReturn:
    _say(
        f"internal error: {type(error).__name__}: {one_line(str(error))} "
        "(this is a bug in loopml; run again with --debug for the traceback)"
    )
    sys.exit(INTERNAL_ERROR)


# What str.splitlines() breaks a line at: a message quoting a value that holds one of
# these (a column name, a path) still prints as one line.
_LINE_BREAKS = {ord(c): repr(c)[1:-1] for c in "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"}


def one_line(message: str) -> str:
    """``message`` with its line breaks written as escapes.

    >>> one_line("no column 'a\\nb'")
    "no column 'a\\\\nb'"
    """
    return message.translate(_LINE_BREAKS)


def _options(args: list[str]) -> list[str]:
    """The words before a ``--``: after it every word is an argument, even --debug."""
    return args[: args.index("--")] if "--" in args else args


def _placed(args: list[str]) -> list[str]:
    """``args`` with --debug taken out and --json moved to the end of the options
    (before a ``--``), wherever they were: the command reads the last options, so both
    work anywhere on the line (``loopml --json info``, ``loopml data show x --debug``)."""
    before = _options(args)
    placed = [word for word in before if word not in ("--debug", "--json")]
    if "--json" in before:
        placed.append("--json")
    return placed + args[len(before) :]


def _say(message: str) -> None:
    print(message, file=sys.stderr)
