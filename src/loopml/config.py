"""Workspace settings: ``loopml.toml``, overridden by ``LOOPML_*`` environment variables.

A workspace is found by walking up from the current folder to the first
``loopml.toml``. ``LOOPML_STORE_URL`` and ``LOOPML_ARTIFACTS_URL`` override what the
file says; with both set, no file is needed at all. Relative paths in the file are
relative to the file's folder. Every key is checked: a section or key loopml does
not know is an error that names it and the known ones, never a silent default.

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
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from loopml._io import write_text_atomic
from loopml.errors import ConfigError, InvalidURL, WorkspaceExists, WorkspaceNotFound

FILE_NAME = "loopml.toml"
STATE_DIR = ".loopml"
STORE_ENV = "LOOPML_STORE_URL"
ARTIFACTS_ENV = "LOOPML_ARTIFACTS_URL"
DEFAULT_STORE_URL = f"sqlite:///{STATE_DIR}/loopml.db"
DEFAULT_ARTIFACTS_URL = f"{STATE_DIR}/artifacts"

# The settings a loopml.toml may hold: section -> its keys. [artifacts.options] is a
# table of the storage's own options, passed to fsspec as they are.
KNOWN_KEYS: dict[str, tuple[str, ...]] = {"store": ("url",), "artifacts": ("url", "options")}


@dataclass(frozen=True, slots=True)
class Settings:
    """Where a workspace keeps its records and its bytes, and where that was read from."""

    store_url: str
    artifacts_url: str
    artifacts_options: dict[str, Any] = field(default_factory=dict)
    root: Path | None = None
    source: str = "environment"
    store_source: str = STORE_ENV


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
    _check_keys(data, config_file)
    store = _section(data, "store", config_file)
    artifacts = _section(data, "artifacts", config_file)
    options = artifacts.get("options", {})
    if not isinstance(options, dict):
        raise ConfigError(
            f"{config_file}: [artifacts.options] must be a table of storage options, "
            f"not {_toml_type(options)}; write it as a section, e.g. "
            '[artifacts.options] then endpoint_url = "http://127.0.0.1:9000"',
            field="artifacts.options",
        )
    store_url = _url(store, "store", DEFAULT_STORE_URL, config_file)
    artifacts_url = _url(artifacts, "artifacts", DEFAULT_ARTIFACTS_URL, config_file)
    return Settings(
        store_url=store_env or _store_url(store_url, root),
        artifacts_url=artifacts_env or _artifacts_url(artifacts_url, root),
        artifacts_options=options,
        root=root,
        source=str(config_file),
        store_source=STORE_ENV if store_env else str(config_file),
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
    except UnicodeDecodeError as error:
        raise ConfigError(
            f"{config_file} is not UTF-8 text (byte {error.start} cannot be read): it is "
            "not a loopml.toml; fix or remove it"
        ) from None
    except OSError as error:
        raise ConfigError(
            f"cannot read {config_file}: {error.strerror or error}; make it readable"
        ) from None


def _check_keys(data: dict[str, Any], config_file: Path) -> None:
    """Refuse any section or key loopml does not know: a typo must not fall back to a
    default store silently."""
    for name, value in data.items():
        if name not in KNOWN_KEYS:
            raise ConfigError(
                f"{config_file}: unknown setting {name!r}; loopml.toml has the sections "
                f"{_listed(f'[{known}]' for known in KNOWN_KEYS)}",
                field=name,
            )
        if not isinstance(value, dict):
            continue  # _section says what it must be
        for key in value:
            if key not in KNOWN_KEYS[name]:
                raise ConfigError(
                    f"{config_file}: unknown key {key!r} in [{name}]; the keys of [{name}] "
                    f"are {_listed(KNOWN_KEYS[name])}",
                    field=f"{name}.{key}",
                )


def _section(data: dict[str, Any], name: str, config_file: Path) -> dict[str, Any]:
    section = data.get(name, {})
    if not isinstance(section, dict):
        raise ConfigError(
            f"{config_file}: [{name}] must be a table (a section), not {_toml_type(section)}; "
            f'write it as [{name}] with url = "..." on the next line',
            field=name,
        )
    return section


def _url(section: dict[str, Any], name: str, default: str, config_file: Path) -> str:
    url = section.get("url", default)
    if not isinstance(url, str) or not url.strip():
        shown = _toml_type(url) if not isinstance(url, str) else "empty"
        raise ConfigError(
            f"{config_file}: [{name}] url must be a non-empty string, not {shown}; e.g. "
            f"url = {json.dumps(default)}",
            field=f"{name}.url",
        )
    return url


def _toml_type(value: object) -> str:
    names = {bool: "a boolean", int: "a number", float: "a number", str: "a string"}
    names.update({list: "a list", dict: "a table"})
    return names.get(type(value), type(value).__name__)


def _listed(names: Iterable[str]) -> str:
    return ", ".join(names)


def _store_url(url: str, root: Path) -> str:
    prefix = "sqlite:///"
    if url.startswith(prefix):
        path = url[len(prefix) :]
        if path and not path.startswith("/") and not path.startswith(":memory:"):
            return prefix + str(root / path)
    return url


def _artifacts_url(url: str, root: Path) -> str:
    try:
        scheme = urlsplit(url).scheme
    except ValueError as error:
        raise InvalidURL(
            f"artifacts URL {url!r} in {root / FILE_NAME} is not a URL ({error}); use a "
            "folder path, s3://bucket/prefix or another fsspec URL",
            field="artifacts.url",
        ) from None
    if scheme:
        return url
    path = Path(url).expanduser()
    return str(path if path.is_absolute() else root / path)
