"""The README's lists stay whole: every command of ``loopml --help`` and every extra of
pyproject.toml is named there."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import typer.main

from loopml.cli._app import app

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _commands(command: object, prefix: str = "") -> set[str]:
    found = set()
    for name, sub in getattr(command, "commands", {}).items():
        if getattr(sub, "hidden", False):
            continue
        found.add(f"{prefix}{name}")
        found |= _commands(sub, f"{prefix}{name} ")
    return found


def _listed_commands() -> set[str]:
    """The commands the README's "The `loopml` command" item names: ``data add/list``
    is ``data add`` and ``data list`` (and ``data``)."""
    item = README.split("- **The `loopml` command**")[1].split("\n- **")[0]
    listed = set()
    for span in re.findall(r"`([^`]+)`", item):
        words = " ".join(span.split()).replace("/ ", "/").split(" ")
        if words[0].startswith("-"):
            continue
        listed.add(words[0])
        for sub in words[1].split("/") if len(words) > 1 else ():
            listed.add(f"{words[0]} {sub}")
    return listed


def test_the_readme_names_every_command() -> None:
    missing = _commands(typer.main.get_command(app)) - _listed_commands()
    assert not missing, f"README.md's list of commands lacks {sorted(missing)}"


def test_the_readme_names_every_extra() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = README.split("## Extras")[1]
    missing = [name for name in project["optional-dependencies"] if f"`{name}`" not in extras]
    assert not missing, f"README.md's extras lack {missing}"
