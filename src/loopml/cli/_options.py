"""Options many commands share, spelled the same everywhere."""

from __future__ import annotations

import typer

JSON = typer.Option(False, "--json", help="Print strict JSON instead of text.")
FORCE = typer.Option(
    False,
    "--force",
    help="Replace a file that is there with other content (never a link, FIFO or device).",
)
