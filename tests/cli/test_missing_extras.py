"""A command that needs an optional dependency which is not installed says which extra
to install (exit 2); a missing module that no extra installs is still a bug (exit 3).
Each runs the real command in a process where the module cannot be imported."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import CLI, Result

from cli_checks import assert_user_error
from loopml._extras import install_command

# Runs loopml's main with the modules argv[1] names (comma-separated) made unimportable,
# as they are where their extra is not installed.
WITHOUT = """
import sys

blocked = set(sys.argv[1].split(","))


class NotInstalled:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in blocked:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, NotInstalled())
from loopml.cli import main

main(sys.argv[2:])
"""


def without(cli: CLI, modules: str, *args: str) -> Result:
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT, modules, *args],
        cwd=cli.cwd,
        env=cli.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return Result(done.returncode, done.stdout, done.stderr)


def test_serve_without_the_serve_extra_names_it(cli) -> None:
    cli("init", check=True)
    result = without(cli, "orjson", "serve", "--port", "0", "--no-grpc")
    assert_user_error(
        result,
        f"this needs loopml[serve]: {install_command('serve')}",
        "no module named 'orjson'",
    )


def test_a_postgresql_store_without_psycopg_names_the_postgres_extra(cli, tmp_path: Path) -> None:
    (tmp_path / "there").mkdir()
    result = without(cli, "psycopg", "init", "there", "--store-url", "postgresql://me@db/x")
    assert_user_error(result, f"this needs loopml[postgres]: {install_command('postgres')}")
    assert not (tmp_path / "there" / "loopml.toml").exists()


def test_debug_shows_the_missing_module_s_traceback(cli) -> None:
    cli("init", check=True)
    result = without(cli, "orjson", "serve", "--port", "0", "--debug")
    assert result.code == 1
    assert "Traceback" in result.err
    assert result.err.strip().endswith("ModuleNotFoundError: No module named 'orjson'")


def test_a_missing_module_no_extra_installs_is_still_an_internal_error(cli, tmp_path: Path) -> None:
    cli("init", check=True)
    (tmp_path / "f.py").write_text("")
    result = without(cli, "cronsim", "schedule", "add", "n", "f.py", "--cron", "* * * * *")
    assert result.code == 3, result
    assert result.err.startswith("internal error: ModuleNotFoundError: No module named 'cronsim'")


class _Installed:
    def __init__(self, direct_url: str | None) -> None:
        self.direct_url = direct_url

    def read_text(self, name: str) -> str | None:
        return self.direct_url if name == "direct_url.json" else None


def test_the_install_command_is_the_one_for_how_loopml_was_installed(monkeypatch) -> None:
    """From the index: the extra by name; from a clone (``pip install -e .``): the
    same folder with the extra, which a name alone would fetch from the index."""
    from importlib import metadata

    for direct_url, expected in (
        (None, "pip install 'loopml[serve]'"),
        ('{"url": "https://files.example/loopml-0.1.0.whl", "archive_info": {}}',
         "pip install 'loopml[serve]'"),
        ('{"url": "file:///src/loop%20ml", "dir_info": {"editable": true}}',
         "pip install -e '/src/loop ml[serve]'"),
        ('{"url": "file:///src/loopml", "dir_info": {}}', "pip install '/src/loopml[serve]'"),
    ):  # fmt: skip
        monkeypatch.setattr(metadata, "distribution", lambda _, u=direct_url: _Installed(u))
        assert install_command("serve") == expected
