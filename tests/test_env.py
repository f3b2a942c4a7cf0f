"""What a run records of the installed packages: the same as the standard library's
metadata parser reads, and anew once a package is installed."""

from __future__ import annotations

import os
import sys
import textwrap
from importlib import metadata
from pathlib import Path

import pytest

from loopml._env import environment


def test_every_distribution_is_listed_as_the_metadata_parser_reads_it() -> None:
    parsed = {
        str(dist.metadata["Name"]).lower(): dist.version
        for dist in metadata.distributions()
        if dist.metadata["Name"]
    }
    assert environment()["packages"] == parsed
    assert parsed["numpy"] == metadata.version("numpy")


def test_a_package_installed_while_the_process_runs_is_listed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = environment()["packages"]
    assert "loopml-probe.package" not in before
    site = tmp_path / "site-packages"
    site.mkdir()
    monkeypatch.setattr(sys, "path", [*sys.path, str(site)])
    assert environment()["packages"] == before  # nothing installed there yet
    info = site / "loopml_probe.package-2.0rc1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        textwrap.dedent(
            """\
            Metadata-Version: 2.1
            Name: loopml-probe.package
            Version: 2.0rc1
            Summary: a distribution made up by the test

            Name: not-this-one
            Version: 9.9 (the body, not a header)
            """
        )
    )
    # what the install did to the folder, whatever the file system's clock resolution
    stamp = site.stat().st_mtime_ns
    os.utime(site, ns=(stamp, stamp + 1_000_000))
    found = environment()["packages"]
    assert found == {**before, "loopml-probe.package": "2.0rc1"}
