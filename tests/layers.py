"""The layer check: every import inside loopml goes down the layers, never up.

Run by ``make check`` (``python tests/layers.py``) and by the test suite. Every import
statement counts — at the top of a module, placed inside a function, or under
``TYPE_CHECKING`` — so a cycle cannot be hidden by moving an import into a function.

Each part of the package (a subpackage, or a module directly under ``loopml``) sits on
one layer; a part may import from its own layer and the layers below it. Within a
layer, parts listed on one line may import each other's names only as the list says:
a later name may import an earlier one.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

# From the bottom up; each entry is one layer, its parts in the order they may import.
LAYERS: list[tuple[str, list[str]]] = [
    (
        "helpers",
        [
            "errors",
            "_version",
            "_extras",
            "_flags",
            "_formats",
            "_strict",
            "_ids",
            "_time",
            "_io",
            "_lazy",
            "_paging",
            "_kinds",
            "_cadence",
            "_progress",
            "_signals",
            "_user_files",
            "_usercode",
        ],
    ),
    ("blobs", ["artifacts"]),
    ("store", ["store", "testing"]),
    ("workspace", ["config", "refs", "_env", "workspace", "_context"]),
    ("data", ["data"]),
    ("models", ["models"]),
    ("tracking", ["_serialize", "tracking"]),
    ("pipelines", ["pipeline"]),
    ("evaluation", ["evaluation"]),
    ("training", ["training"]),
    ("registry", ["registry"]),
    ("serve", ["serve"]),
    ("monitor", ["monitor"]),
    ("CLI, UI", ["_verify", "cli", "ui", "__main__", "__init__"]),
]

# Parts a part may not import although they are below it: the server's hot path loads
# no pipeline runner, no training and no tuning (DESIGN.md: "serve/ imports no pipeline,
# training, CLI or UI").
FORBIDDEN: dict[str, frozenset[str]] = {
    "serve": frozenset({"pipeline", "training", "evaluation"}),
}

RANK = {
    part: (layer, order)
    for layer, (_, parts) in enumerate(LAYERS)
    for order, part in enumerate(parts)
}


@dataclass(frozen=True)
class Import:
    module: str  # the importing module, dotted
    target: str  # the loopml module (or name) imported
    line: int

    @property
    def source_part(self) -> str:
        return part_of(self.module)

    @property
    def target_part(self) -> str:
        return part_of(self.target)


def part_of(module: str) -> str:
    """``loopml.data._api`` -> ``data``; ``loopml._ids`` -> ``_ids``; ``loopml`` -> ``__init__``."""
    pieces = module.split(".")
    return pieces[1] if len(pieces) > 1 else "__init__"


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(root: Path) -> Iterator[Import]:
    """Every import of a loopml module in the package at ``root``, placed ones included."""
    submodules = {module_name(p, root) for p in root.rglob("*.py")}
    submodules |= {module_name(p / "__init__.py", root) for p in root.rglob("*") if p.is_dir()}
    for path in sorted(root.rglob("*.py")):
        module = module_name(path, root)
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split(".")[0] == root.name:
                        yield Import(module, alias.name, node.lineno)
            elif isinstance(node, ast.ImportFrom):
                base = _absolute(node, package)
                if base.split(".")[0] != root.name:
                    continue
                for alias in node.names:
                    # `from loopml import tracking` imports the subpackage, not loopml.
                    named = f"{base}.{alias.name}"
                    yield Import(module, named if named in submodules else base, node.lineno)


def _absolute(node: ast.ImportFrom, package: str) -> str:
    if not node.level:
        return node.module or ""
    pieces = package.split(".")
    pieces = pieces[: len(pieces) - (node.level - 1)]
    return ".".join([*pieces, *([node.module] if node.module else [])])


def upward(root: Path) -> list[str]:
    """Each import that goes up a layer (or up within one), as a line to print."""
    found = []
    for each in imports(root):
        source, target = each.source_part, each.target_part
        if source == target:
            continue
        for part in (source, target):
            if part not in RANK:
                found.append(
                    f"{each.module}:{each.line}: {part!r} is on no layer; add it to LAYERS"
                )
                break
        else:
            if target in FORBIDDEN.get(source, ()):
                found.append(
                    f"{each.module}:{each.line} imports {each.target}: {source} may not "
                    f"import {target} (FORBIDDEN in tests/layers.py)"
                )
            elif RANK[target] > RANK[source]:
                layer = LAYERS[RANK[target][0]][0]
                found.append(
                    f"{each.module}:{each.line} imports {each.target}, which is above it "
                    f"({target} in layer {layer!r}, {source} in {LAYERS[RANK[source][0]][0]!r})"
                )
    return sorted(set(found))


WIDTH = 78


def picture(root: Path) -> str:
    """The layers as stacked boxes, top first: each with its parts and, on the arrow
    line, the layers below that it imports from."""
    counts: dict[int, set[int]] = {}
    for each in imports(root):
        source, target = RANK.get(each.source_part), RANK.get(each.target_part)
        if source is None or target is None or source[0] == target[0]:
            continue
        counts.setdefault(source[0], set()).add(target[0])
    present = {part_of(module_name(p, root)) for p in root.rglob("*.py")}
    lines = []
    for layer in reversed(range(len(LAYERS))):
        name, parts = LAYERS[layer]
        shown = [("loopml" if part == "__init__" else part) for part in parts if part in present]
        if not shown:
            shown = ["(to come)"]
        title = f"╭─ {name} "
        lines.append(title + "─" * (WIDTH - len(title) - 1) + "╮")
        lines.extend(_boxed(" · ".join(shown)))
        uses = counts.get(layer, set())
        if uses:
            arrows = " · ".join(LAYERS[below][0] for below in sorted(uses, reverse=True))
            lines.extend(_boxed("↓ " + arrows))
        lines.append("╰" + "─" * (WIDTH - 2) + "╯")
    return "\n".join(lines) + "\n"


def _boxed(text: str) -> list[str]:
    """``text`` wrapped into box lines of the picture's width."""
    import textwrap

    return [f"│ {piece.ljust(WIDTH - 4)} │" for piece in textwrap.wrap(text, WIDTH - 4)]


def main() -> int:
    root = Path(__file__).resolve().parent.parent / "src" / "loopml"
    if sys.argv[1:] == ["--picture"]:
        print(picture(root), end="")
        return 0
    found = upward(root)
    for line in found:
        print(line)
    print(
        f"layer check: {len(found)} import(s) going up"
        if found
        else "layer check: all imports go down"
    )
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
