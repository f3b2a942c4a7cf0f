"""The table of which extra installs which module is pyproject.toml's
optional-dependencies, read the other way round."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

from loopml._extras import MODULES, extra_for

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"
NOT_FOR_USERS = {"dev"}  # the test and check tools, not a feature's dependencies


def _extras() -> dict[str, set[str]]:
    """Each extra's distributions (normalised), with the extras it names expanded."""
    listed = tomllib.loads(PYPROJECT.read_text())["project"]["optional-dependencies"]

    def expand(extra: str) -> set[str]:
        found: set[str] = set()
        for requirement in listed[extra]:
            itself = re.fullmatch(r"loopml\[(?P<names>[^]]+)\]", requirement)
            if itself is not None:
                for name in itself["names"].split(","):
                    found |= expand(name.strip())
            else:
                name = re.match(r"[A-Za-z0-9._-]+", requirement)
                assert name is not None, requirement
                found.add(_normal(name[0]))
        return found

    return {extra: expand(extra) for extra in listed if extra not in NOT_FOR_USERS}


def _normal(distribution: str) -> str:
    return re.sub(r"[-_.]+", "-", distribution).lower()


def test_every_module_is_installed_by_the_extra_it_names() -> None:
    extras = _extras()
    wrong = [
        f"{module}: {extra} does not list {distribution}"
        for module, (distribution, extra) in MODULES.items()
        if _normal(distribution) not in extras.get(extra, set())
    ]
    assert not wrong, wrong


def test_every_distribution_of_an_extra_has_its_module() -> None:
    named = {_normal(distribution) for distribution, _ in MODULES.values()}
    missing = {
        distribution
        for distributions in _extras().values()
        for distribution in distributions
        if distribution not in named
    }
    assert not missing, f"loopml/_extras.py has no module for {sorted(missing)}"


def test_a_package_is_found_by_its_top_level_and_by_no_other_part() -> None:
    assert extra_for("grpc") == "serve"
    assert extra_for("google.protobuf") == "serve"
    assert extra_for("google") == "serve"  # no google.* at all
    assert extra_for("sklearn.linear_model") is None  # installed, but missing a part
    assert extra_for("orjso") is None
    assert extra_for("numpy") is None


def test_a_public_name_needing_a_missing_extra_says_which_to_install() -> None:
    # As after `make demo` alone, which installs no serving extra: orjson absent.
    program = (
        "import sys; sys.modules['orjson'] = None\n"
        "import loopml.serve\n"
        "try:\n    loopml.serve.Server\n"
        "except ModuleNotFoundError as error:\n    print(error.name, '|', error)\n"
    )
    found = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=120, check=True
    )
    name, _, message = found.stdout.strip().partition(" | ")
    assert name == "orjson"
    assert message.startswith("loopml.serve.Server: this needs loopml[serve]: pip install ")
