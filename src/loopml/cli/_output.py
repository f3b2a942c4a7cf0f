"""The Rich console every command prints tables with."""

from __future__ import annotations

import sys
from typing import Any


def console() -> Any:
    from rich.console import Console

    # Piped output is read by people too: do not squeeze tables into 80 columns.
    return Console() if sys.stdout.isatty() else Console(width=160)
