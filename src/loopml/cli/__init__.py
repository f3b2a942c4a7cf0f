"""The ``loopml`` command. One module per command group; errors become one line and exit 2."""

from loopml.cli._main import main

__all__ = ["main"]
