"""The layer check finds an import going up wherever it is placed, and loopml has none."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

import layers

SRC = Path(__file__).resolve().parent.parent / "src" / "loopml"


def test_loopml_imports_only_go_down() -> None:
    assert layers.upward(SRC) == []


def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "loopml"
    for name, text in {"__init__.py": "", **files}.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


@pytest.mark.parametrize(
    "text",
    [
        "from loopml.tracking._active import run_making_records\n",
        "def f():\n    from loopml.tracking import start_run\n",
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import loopml.tracking\n",
        "def f():\n    from loopml import tracking\n",
        "from ..tracking import _active\n",
    ],
    ids=["top", "placed", "type-checking", "subpackage-by-name", "relative"],
)
def test_an_import_going_up_is_found_wherever_it_is_placed(tmp_path: Path, text: str) -> None:
    root = _package(
        tmp_path,
        {"data/__init__.py": "", "data/_api.py": text, "tracking/__init__.py": ""},
    )
    [found] = layers.upward(root)
    assert found.startswith("loopml.data._api:")
    assert "imports loopml.tracking" in found
    assert "above it" in found


def test_imports_going_down_or_within_a_part_pass(tmp_path: Path) -> None:
    root = _package(
        tmp_path,
        {
            "data/__init__.py": "from loopml.data._api import get\n",
            "data/_api.py": "from loopml import errors\nfrom loopml.store import Run\n",
            "tracking/__init__.py": "from loopml.data import get\n",
            "errors.py": "",
            "store/__init__.py": "",
        },
    )
    assert layers.upward(root) == []


def test_within_a_layer_only_a_later_part_imports_an_earlier_one(tmp_path: Path) -> None:
    root = _package(tmp_path, {"_context.py": "import loopml.workspace\n", "workspace.py": ""})
    assert layers.upward(root) == []
    root = _package(tmp_path / "b", {"workspace.py": "from loopml import _context\n"})
    (root / "_context.py").write_text("")
    [found] = layers.upward(root)
    assert found.startswith("loopml.workspace:1 imports loopml._context")


def test_a_part_on_no_layer_is_reported(tmp_path: Path) -> None:
    root = _package(tmp_path, {"novel/__init__.py": "from loopml import errors\n", "errors.py": ""})
    [found] = layers.upward(root)
    assert "'novel' is on no layer" in found


def test_the_picture_in_the_docs_is_current() -> None:
    page = (SRC.parent.parent / "docs" / "architecture.md").read_text(encoding="utf-8")
    shown = page.split("<!-- layers:begin -->", 1)[1].split("<!-- layers:end -->", 1)[0]
    drawn = shown.split("```text\n", 1)[1].rsplit("```", 1)[0]
    assert drawn == layers.picture(SRC), "run: python tests/layers.py --picture"
