"""Options many commands share, spelled the same everywhere."""

from __future__ import annotations

import typer

JSON = typer.Option(False, "--json", help="Print strict JSON instead of text.")
FORCE = typer.Option(
    False,
    "--force",
    help="Replace a file that is there with other content (never a link, FIFO or device).",
)


def example(*commands: str) -> str:
    """A help epilog showing ``commands``, kept as written (``\\b`` stops Click
    re-wrapping the paragraph)."""
    return "\b\nExample:\n" + "\n".join(f"  {command}" for command in commands)
