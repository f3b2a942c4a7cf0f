"""Workspace settings: ``loopml.toml``, overridden by ``LOOPML_*`` environment variables.

A workspace is found by walking up from the current folder to the first
``loopml.toml``. ``LOOPML_STORE_URL`` and ``LOOPML_ARTIFACTS_URL`` override what the
file says; with both set, no file is needed at all. Relative paths in the file are
relative to the file's folder.

>>> import tempfile, pathlib
>>> root = pathlib.Path(tempfile.mkdtemp())
>>> _ = write_settings(root)
>>> settings = find_settings(root, env={})
>>> settings.store_url.endswith(".loopml/loopml.db")
True
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from loopml._io import write_text_atomic
from loopml.errors import ConfigError, WorkspaceExists, WorkspaceNotFound

FILE_NAME = "loopml.toml"
STATE_DIR = ".loopml"
STORE_ENV = "LOOPML_STORE_URL"
ARTIFACTS_ENV = "LOOPML_ARTIFACTS_URL"
DEFAULT_STORE_URL = f"sqlite:///{STATE_DIR}/loopml.db"
DEFAULT_ARTIFACTS_URL = f"{STATE_DIR}/artifacts"


@dataclass(frozen=True, slots=True)
class Settings:
    """Where a workspace keeps its records and its bytes, and where that was read from."""

    store_url: str
    artifacts_url: str
    artifacts_options: dict[str, Any] = field(default_factory=dict)
    root: Path | None = None
    source: str = "environment"


def find_settings(
    start: str | Path | None = None, env: Mapping[str, str] | None = None
) -> Settings:
    """The settings of the workspace at or above ``start`` (default: the current folder)."""
    env = os.environ if env is None else env
    here = Path(start if start is not None else Path.cwd()).absolute()
    store_env, artifacts_env = env.get(STORE_ENV), env.get(ARTIFACTS_ENV)
    config_file = _find_file(here)
    if config_file is None:
        if store_env and artifacts_env:
            return Settings(store_url=store_env, artifacts_url=artifacts_env)
        raise WorkspaceNotFound(
            f"no loopml workspace in {here} or any folder above it; run `loopml init` "
            f"there, or set both {STORE_ENV} and {ARTIFACTS_ENV}"
        )
    root = config_file.parent
    data = _read_file(config_file)
    store = _section(data, "store", config_file)
    artifacts = _section(data, "artifacts", config_file)
    options = artifacts.get("options", {})
    if not isinstance(options, dict):
        raise ConfigError(f"{config_file}: [artifacts.options] must be a table of settings")
    return Settings(
        store_url=store_env or _store_url(str(store.get("url", DEFAULT_STORE_URL)), root),
        artifacts_url=artifacts_env
        or _artifacts_url(str(artifacts.get("url", DEFAULT_ARTIFACTS_URL)), root),
        artifacts_options=options,
        root=root,
        source=str(config_file),
    )


def write_settings(
    root: str | Path,
    *,
    store_url: str | None = None,
    artifacts_url: str | None = None,
    artifacts_options: Mapping[str, str | int | float | bool] | None = None,
) -> Path:
    """Write a new ``loopml.toml`` in ``root``; refuses to overwrite one.

    ``artifacts_options`` become ``[artifacts.options]``: the fsspec storage options
    (for s3://, e.g. ``endpoint_url``).
    """
    root = Path(root).absolute()
    config_file = root / FILE_NAME
    if config_file.exists():
        raise WorkspaceExists(
            f"{config_file} exists already: this folder is a workspace; use it as it is, "
            "or remove loopml.toml and .loopml/ to start over"
        )
    text = (
        "# loopml workspace. Relative paths are relative to this file's folder;\n"
        f"# {STORE_ENV} and {ARTIFACTS_ENV} override these.\n"
        "[store]\n"
        f"url = {json.dumps(store_url or DEFAULT_STORE_URL)}\n\n"
        "[artifacts]\n"
        f"url = {json.dumps(artifacts_url or DEFAULT_ARTIFACTS_URL)}\n"
    )
    if artifacts_options:
        text += "\n[artifacts.options]\n" + "".join(
            f"{json.dumps(key)} = {json.dumps(value)}\n" for key, value in artifacts_options.items()
        )
    write_text_atomic(config_file, text, fix="run `loopml init` in a folder you can write to")
    return config_file


def _find_file(start: Path) -> Path | None:
    for folder in (start, *start.parents):
        candidate = folder / FILE_NAME
        if candidate.is_file():
            return candidate
    return None


def _read_file(config_file: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(config_file.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{config_file} is not valid TOML ({error}); fix or remove it") from None
    except OSError as error:
        raise ConfigError(f"cannot read {config_file}: {error.strerror or error}") from None


def _section(data: dict[str, Any], name: str, config_file: Path) -> dict[str, Any]:
    section = data.get(name, {})
    if not isinstance(section, dict):
        raise ConfigError(f"{config_file}: [{name}] must be a table with a url")
    return section


def _store_url(url: str, root: Path) -> str:
    prefix = "sqlite:///"
    if url.startswith(prefix):
        path = url[len(prefix) :]
        if path and not path.startswith("/") and not path.startswith(":memory:"):
            return prefix + str(root / path)
    return url


def _artifacts_url(url: str, root: Path) -> str:
    if urlsplit(url).scheme:
        return url
    path = Path(url).expanduser()
    return str(path if path.is_absolute() else root / path)
