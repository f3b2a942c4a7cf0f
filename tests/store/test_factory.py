"""open_store picks a backend by the URL's scheme; backends register the schemes they serve."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from loopml.errors import AlreadyExists, InvalidInput, InvalidURL
from loopml.store import MetadataStore, _factory, open_store, register_backend


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Schemes a test registers are forgotten after it."""
    monkeypatch.setattr(_factory, "_BACKENDS", dict(_factory._BACKENDS))


def test_an_unknown_scheme_names_the_url_the_known_schemes_and_the_fix() -> None:
    with pytest.raises(InvalidURL) as raised:
        open_store("mongodb://ana:secret@db.example/loopml")
    message = str(raised.value)
    assert "'mongodb://ana:***@db.example/loopml' uses 'mongodb'" in message
    assert "secret" not in message
    assert "it knows memory, postgresql, sqlite" in message
    for example in ("sqlite:///path/to/loopml.db", "postgresql://user@host", "memory://NAME"):
        assert example in message


def test_text_that_is_no_url_is_refused() -> None:
    for text in ("this is not a url", "", "sqlite:/x.db"):
        with pytest.raises(InvalidURL, match=r"is not a database URL.*sqlite:///path"):
            open_store(text)
    with pytest.raises(InvalidURL, match="NUL character"):
        open_store("memory\x00://x")


def test_a_driver_after_a_plus_goes_to_the_backend_of_the_scheme(tmp_path: Path) -> None:
    with open_store(f"sqlite+pysqlite:///{tmp_path}/loopml.db", create=True) as store:
        assert store.info().backend == "sqlite"
    with pytest.raises(InvalidURL, match=r"names no in-memory store; use memory://NAME"):
        open_store("memory+fast://x", create=True)


def test_a_registered_backend_opens_the_urls_of_its_scheme(registry: None, memory_url: str) -> None:
    calls: list[tuple[str, bool, bool]] = []

    def opener(url: str, create: bool, migrate: bool) -> MetadataStore:
        calls.append((url, create, migrate))
        return open_store(memory_url, create=create)

    register_backend("kit-test", opener, example="kit-test://NAME")
    register_backend("kit-test", opener)  # the same opener again changes nothing
    with open_store("kit-test://one", create=True, migrate=False) as store:
        store.create_run(kind="train", name="fit")
    with open_store("kit-test+driver://one") as store:
        assert [run.name for run in store.find_runs()] == ["fit"]
    assert calls == [("kit-test://one", True, False), ("kit-test+driver://one", False, True)]
    with pytest.raises(InvalidURL, match=r"it knows kit-test, memory, .*or kit-test://NAME"):
        open_store("nosuch://x")


def test_a_scheme_is_served_by_one_backend(registry: None) -> None:
    def opener(url: str, create: bool, migrate: bool) -> MetadataStore:
        raise AssertionError("never called")

    with pytest.raises(AlreadyExists, match=r"'sqlite' is served already by loopml\.store\._sql"):
        register_backend("sqlite", opener)
    register_backend("other", opener)
    with pytest.raises(AlreadyExists, match=r"'other'.*test_factory"):
        register_backend("other", lambda url, create, migrate: opener(url, create, migrate))


@pytest.mark.parametrize("scheme", ["", "My", "a+b", "a b", "1a", 3])
def test_a_scheme_must_be_a_lowercase_word(registry: None, scheme: object) -> None:
    with pytest.raises(InvalidInput, match="cannot be registered"):
        register_backend(scheme, lambda url, create, migrate: open_store(url))  # type: ignore[arg-type]


def test_an_opener_must_be_callable(registry: None) -> None:
    with pytest.raises(InvalidInput, match=r"opener of store URL scheme 'x' must be a function"):
        register_backend("x", "memory://x")  # type: ignore[arg-type]


def test_importing_the_store_loads_no_backend() -> None:
    code = (
        "import sys, loopml.store;"
        "print(sorted(m for m in sys.modules if m.startswith(('loopml.store._sql.',"
        " 'loopml.store._memory.'))))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout.strip()
    assert loaded == "[]"


def test_a_sqlite_store_loads_no_postgresql_code(tmp_path: Path) -> None:
    """Opening and reading a SQLite store never imports SQLAlchemy's PostgreSQL dialect:
    about 75 ms that every command on the embedded default would pay. (Making the
    store runs the migrations, whose partial index names both dialects: once.)"""
    import loopml

    loopml.init(tmp_path).close()
    code = (
        "import sys, loopml;"
        f"ws = loopml.workspace({str(tmp_path)!r});"
        "ws.store.info(); ws.store.find_artifacts(); ws.close();"
        "print(sorted(m for m in sys.modules if m.startswith('sqlalchemy.dialects.postgresql')))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout.strip()
    assert loaded == "[]"
