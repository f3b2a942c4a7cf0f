"""Finding a workspace: loopml.toml upward, environment overrides, relative paths."""

from __future__ import annotations

from pathlib import Path

import pytest

from loopml.config import find_settings, write_settings
from loopml.errors import ConfigError, WorkspaceExists, WorkspaceNotFound


def test_defaults_resolve_against_the_file_folder(tmp_path: Path) -> None:
    write_settings(tmp_path)
    settings = find_settings(tmp_path / "sub" / "dir", env={})
    assert settings.root == tmp_path
    assert settings.store_url == f"sqlite:///{tmp_path}/.loopml/loopml.db"
    assert settings.artifacts_url == str(tmp_path / ".loopml" / "artifacts")
    assert settings.source == str(tmp_path / "loopml.toml")


def test_the_nearest_file_wins(tmp_path: Path) -> None:
    write_settings(tmp_path)
    inner = tmp_path / "project"
    inner.mkdir()
    write_settings(inner, artifacts_url="s3://bucket/prefix")
    assert find_settings(inner, env={}).artifacts_url == "s3://bucket/prefix"
    assert find_settings(tmp_path, env={}).root == tmp_path


def test_urls_that_are_not_relative_paths_are_kept(tmp_path: Path) -> None:
    write_settings(tmp_path, store_url="postgresql://u@db/loopml", artifacts_url="/srv/artifacts")
    settings = find_settings(tmp_path, env={})
    assert settings.store_url == "postgresql://u@db/loopml"
    assert settings.artifacts_url == "/srv/artifacts"


def test_artifact_options_are_read(tmp_path: Path) -> None:
    (tmp_path / "loopml.toml").write_text(
        '[artifacts]\nurl = "s3://b/p"\n[artifacts.options]\nendpoint_url = "http://127.0.0.1:9"\n'
    )
    settings = find_settings(tmp_path, env={})
    assert settings.artifacts_options == {"endpoint_url": "http://127.0.0.1:9"}


def test_environment_overrides_each_url(tmp_path: Path) -> None:
    write_settings(tmp_path)
    env = {"LOOPML_ARTIFACTS_URL": "s3://other/x"}
    settings = find_settings(tmp_path, env=env)
    assert settings.artifacts_url == "s3://other/x"
    assert settings.store_url.endswith(".loopml/loopml.db")


def test_environment_alone_is_a_workspace(tmp_path: Path) -> None:
    env = {"LOOPML_STORE_URL": "sqlite:////x.db", "LOOPML_ARTIFACTS_URL": "/blobs"}
    settings = find_settings(tmp_path, env=env)
    assert (settings.store_url, settings.artifacts_url, settings.root) == (
        "sqlite:////x.db",
        "/blobs",
        None,
    )


def test_one_env_url_alone_is_not_enough(tmp_path: Path) -> None:
    with pytest.raises(WorkspaceNotFound, match="LOOPML_ARTIFACTS_URL"):
        find_settings(tmp_path, env={"LOOPML_STORE_URL": "sqlite:////x.db"})


def test_an_existing_file_is_never_overwritten(tmp_path: Path) -> None:
    write_settings(tmp_path, artifacts_url="/keep")
    with pytest.raises(WorkspaceExists):
        write_settings(tmp_path)
    assert find_settings(tmp_path, env={}).artifacts_url == "/keep"


def test_a_section_that_is_not_a_table(tmp_path: Path) -> None:
    (tmp_path / "loopml.toml").write_text('store = "sqlite:///x.db"\n')
    with pytest.raises(ConfigError, match=r"\[store\] must be a table"):
        find_settings(tmp_path, env={})


@pytest.mark.parametrize(
    ("text", "named", "known"),
    [
        ('[store]\nulr = "sqlite:////elsewhere.db"\n', "'ulr' in [store]", "are url"),
        ('[artifacts]\nuri = "s3://bucket/x"\n', "'uri' in [artifacts]", "are url, options"),
        ('[stor]\nurl = "sqlite:////elsewhere.db"\n', "'stor'", "[store], [artifacts]"),
        ('url = "sqlite:////elsewhere.db"\n', "'url'", "[store], [artifacts]"),
    ],
)
def test_an_unknown_key_is_an_error_naming_it_and_the_known_ones(
    tmp_path: Path, text: str, named: str, known: str
) -> None:
    (tmp_path / "loopml.toml").write_text(text)
    with pytest.raises(ConfigError) as raised:
        find_settings(tmp_path, env={})
    message = str(raised.value)
    assert str(tmp_path / "loopml.toml") in message
    assert named in message
    assert known in message


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("[store]\nurl = 3\n", "[store] url must be a non-empty string, not a number"),
        ('[store]\nurl = ""\n', "[store] url must be a non-empty string, not empty"),
        ("[artifacts]\nurl = [1]\n", "[artifacts] url must be a non-empty string, not a list"),
        ("[artifacts]\nurl = 1979-05-27\n", "not date"),
        ('[artifacts]\noptions = "x"\n', "[artifacts.options] must be a table"),
        ("artifacts = true\n", "[artifacts] must be a table (a section), not a boolean"),
    ],
)
def test_a_value_of_the_wrong_type_is_an_error(tmp_path: Path, text: str, fragment: str) -> None:
    (tmp_path / "loopml.toml").write_text(text)
    with pytest.raises(ConfigError) as raised:
        find_settings(tmp_path, env={})
    assert fragment in str(raised.value)


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ('[store]\nulr = "sqlite:////elsewhere.db"\n', "store.ulr"),
        ('[stor]\nurl = "sqlite:////elsewhere.db"\n', "stor"),
        ("[store]\nurl = 3\n", "store.url"),
        ('[artifacts]\noptions = "x"\n', "artifacts.options"),
        ("artifacts = true\n", "artifacts"),
    ],
)
def test_a_bad_setting_is_named_as_the_field(tmp_path: Path, text: str, field: str) -> None:
    (tmp_path / "loopml.toml").write_text(text)
    with pytest.raises(ConfigError) as raised:
        find_settings(tmp_path, env={})
    assert raised.value.field == field
    assert raised.value.to_dict()["code"] == "config_error"


@pytest.mark.parametrize(
    "content", [b"\xff\xfe\x00\x01binary", b'[store]\nurl = "\xc3\x28"\n', b"\x00" * 64]
)
def test_a_file_that_is_not_text_is_an_error(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "loopml.toml").write_bytes(content)
    with pytest.raises(ConfigError, match=r"loopml\.toml is not (UTF-8 text|valid TOML)"):
        find_settings(tmp_path, env={})


def test_the_environment_does_not_hide_a_typo_in_the_file(tmp_path: Path) -> None:
    (tmp_path / "loopml.toml").write_text('[artifacts]\nurl = ".loopml/artifacts"\nuri = "x"\n')
    env = {"LOOPML_STORE_URL": "sqlite:////x.db", "LOOPML_ARTIFACTS_URL": "/blobs"}
    with pytest.raises(ConfigError, match="'uri'"):
        find_settings(tmp_path, env=env)


def test_where_the_store_url_came_from_is_kept(tmp_path: Path) -> None:
    write_settings(tmp_path)
    assert find_settings(tmp_path, env={}).store_source == str(tmp_path / "loopml.toml")
    env = {"LOOPML_STORE_URL": "sqlite:////x.db"}
    assert find_settings(tmp_path, env=env).store_source == "LOOPML_STORE_URL"
