"""A little project written to folders, one per version, and fingerprinted.

Each version of the project is written to a folder of its own and imported under
module names unique to the test, so two versions of one test compare like for like.
"""

from __future__ import annotations

import contextlib
import importlib
import re
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

from loopml.pipeline._fingerprint import Fingerprint, code_fingerprint

HELPERS = """
    THRESHOLD = 0.5
    UNUSED_LIMIT = 10

    def clean(x):
        return _strip(x).lower()

    def _strip(x):
        return x.strip()

    def unused(x):
        return x * 2
"""

STEP_MODULE = """
    import helpers

    def featurize(x):
        return helpers.clean(x)
"""


class Project:
    """Writes versions of a project and fingerprints a step in each."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.tag = uuid.uuid4().hex[:10]
        self.versions = 0

    def name(self, module: str) -> str:
        top, _, rest = module.partition(".")
        return f"{top}_{self.tag}" + (f".{rest}" if rest else "")

    def write(self, **modules: str) -> Path:
        self.versions += 1
        folder = self.root / f"v{self.versions}"
        names = re.compile(r"\b(" + "|".join(m.split("/")[0] for m in modules) + r")\b")
        for module, source in modules.items():
            path = folder / f"{names.sub(lambda m: self.name(m[1]), module)}.py"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(names.sub(lambda m: self.name(m[1]), textwrap.dedent(source)))
        return folder

    @contextlib.contextmanager
    def imported(self, folder: Path, module: str) -> Iterator[ModuleType]:
        sys.path.insert(0, str(folder))
        importlib.invalidate_caches()
        try:
            yield importlib.import_module(self.name(module))
        finally:
            sys.path.remove(str(folder))
            for loaded in [m for m in sys.modules if self.tag in m]:
                del sys.modules[loaded]

    def fingerprint(self, step: str = "pipelines.featurize", **modules: str) -> Fingerprint:
        module, func = step.rsplit(".", 1)
        with self.imported(self.write(**modules), module) as loaded:
            return code_fingerprint(getattr(loaded, func))


def digest(project: Project, step: str = STEP_MODULE, helpers: str = HELPERS) -> str:
    return project.fingerprint(pipelines=step, helpers=helpers).digest
