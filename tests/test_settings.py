"""Configuration: user and project config files, environment variables, flags."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest

from tiller.config import DEFAULT_MODEL
from tiller.session import Session
from tiller.settings import (
    ENV_VARS,
    ConfigError,
    load_env_file,
    load_settings,
    resolve_model,
)
from tiller.truncation import TruncationLimit


@pytest.fixture
def dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """(user config dir, project root), with no TILLER_* variables set."""
    user, root = tmp_path / "user", tmp_path / "project"
    user.mkdir()
    (root / ".tiller").mkdir(parents=True)
    monkeypatch.setenv("TILLER_CONFIG_DIR", str(user))
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    return user, root


def write(directory: Path, text: str) -> Path:
    path = directory / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("user", "project", "env", "flag", "expected"),
    [
        (None, None, None, None, DEFAULT_MODEL),
        ("u/m", None, None, None, "u/m"),
        ("u/m", "p/m", None, None, "p/m"),
        ("u/m", "p/m", "e/m", None, "e/m"),
        ("u/m", "p/m", "e/m", "f/m", "f/m"),
    ],
)
def test_model_precedence(
    dirs: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
    user: str | None,
    project: str | None,
    env: str | None,
    flag: str | None,
    expected: str,
) -> None:
    """Flags beat the environment, which beats the project config, then the user config."""
    user_dir, root = dirs
    if user:
        write(user_dir, f'model = "{user}"\n')
    if project:
        write(root / ".tiller", f'model = "{project}"\n')
    if env:
        monkeypatch.setenv("TILLER_MODEL", env)
    assert load_settings(root, flags={"model": flag}).model == expected


def test_sources_name_where_each_value_came_from(dirs: tuple[Path, Path]) -> None:
    """Each resolved key records the file, variable or flag that set it."""
    user_dir, root = dirs
    user_file = write(user_dir, 'model = "u/m"\nmax_turns = 7\n')
    project_file = write(root / ".tiller", 'profile = "openai"\n')
    settings = load_settings(root, flags={"api_base": "http://x"})
    assert settings.sources == {
        "model": str(user_file),
        "max_turns": str(user_file),
        "profile": str(project_file),
        "api_base": "flag",
    }


def test_unknown_key_names_file_and_key(dirs: tuple[Path, Path]) -> None:
    """An unknown key is a ConfigError naming the file and the key."""
    _, root = dirs
    path = write(root / ".tiller", 'modle = "x"\n')
    with pytest.raises(ConfigError, match=re.escape(f"{path}: unknown key 'modle'")):
        load_settings(root)


def test_wrong_type_names_file_and_key(dirs: tuple[Path, Path]) -> None:
    """A value of the wrong type is a ConfigError naming the file and the dotted key."""
    user_dir, _ = dirs
    path = write(user_dir, '[limits]\nloop_detection_window = "ten"\n')
    with pytest.raises(
        ConfigError, match=re.escape(f"{path}: limits.loop_detection_window must be")
    ):
        load_settings(None)


def test_invalid_toml_is_a_config_error(dirs: tuple[Path, Path]) -> None:
    """A file that is not TOML is a ConfigError, not a TOMLDecodeError."""
    user_dir, _ = dirs
    write(user_dir, "model = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(None)


def test_bad_env_variable_is_named(dirs: tuple[Path, Path], monkeypatch) -> None:
    """A TILLER_MAX_TURNS that is not a number names the variable."""
    monkeypatch.setenv("TILLER_MAX_TURNS", "lots")
    with pytest.raises(ConfigError, match="TILLER_MAX_TURNS"):
        load_settings(None)


def test_limits_map_into_session_config(dirs: tuple[Path, Path]) -> None:
    """[limits] fills SessionConfig; a partial truncation table keeps the tool's other defaults."""
    user_dir, root = dirs
    write(user_dir, "[limits]\nmax_subagent_depth = 2\n[limits.truncation.grep]\nchars = 500\n")
    write(root / ".tiller", "[limits]\ncontext_warning_ratio = 0.5\n")
    config = load_settings(root).config
    assert (
        config.max_subagent_depth,
        config.context_warning_ratio,
        config.truncation,
    ) == (2, 0.5, {"grep": TruncationLimit(500, "tail", 200)})


def test_compaction_limits_map_into_session_config(dirs: tuple[Path, Path]) -> None:
    """compact_ratio and compact_keep_tokens in [limits] reach SessionConfig."""
    _, root = dirs
    write(root / ".tiller", "[limits]\ncompact_ratio = 1\ncompact_keep_tokens = 5000\n")
    config = load_settings(root).config
    assert (config.compact_ratio, config.compact_keep_tokens) == (1.0, 5000)


def test_project_skills_dirs_are_relative_to_the_root(dirs: tuple[Path, Path]) -> None:
    """Relative skills_dirs in the project config resolve against the workspace root."""
    _, root = dirs
    write(root / ".tiller", 'skills_dirs = ["my-skills"]\n')
    assert load_settings(root).skills_dirs == [root / "my-skills"]


def test_env_file_loads_without_overriding(tmp_path: Path, monkeypatch) -> None:
    """--env-file sets missing variables and leaves ones already set alone."""
    monkeypatch.setenv("TILLER_TEST_SET", "kept")
    monkeypatch.delenv("TILLER_TEST_NEW", raising=False)
    env = tmp_path / ".env"
    env.write_text("TILLER_TEST_SET=replaced\nTILLER_TEST_NEW=loaded\n", encoding="utf-8")
    try:
        loaded = load_env_file(env)
        result = (loaded, os.environ["TILLER_TEST_SET"], os.environ["TILLER_TEST_NEW"])
    finally:
        os.environ.pop("TILLER_TEST_NEW", None)
    assert result == (["TILLER_TEST_NEW"], "kept", "loaded")


def test_resolve_model_reads_config_after_env(dirs: tuple[Path, Path], monkeypatch) -> None:
    """resolve_model: TILLER_MODEL wins over the config file."""
    user_dir, _ = dirs
    write(user_dir, 'model = "u/m"\n')
    monkeypatch.setenv("TILLER_MODEL", "e/m")
    assert resolve_model() == "e/m"


def test_session_default_model_follows_project_config(dirs: tuple[Path, Path]) -> None:
    """Session() without a model uses the project's config file."""
    _, root = dirs
    write(root / ".tiller", 'model = "openai/from-config"\n')
    assert Session(root=root, skills_dirs=[]).model == "openai/from-config"


def test_project_config_may_not_set_api_base(dirs: tuple[Path, Path]) -> None:
    """A repository cannot send the user's API key to an endpoint of its choosing."""
    _, root = dirs
    write(root / ".tiller", 'api_base = "https://attacker.example/v1"\n')
    with pytest.raises(ConfigError, match="api_base may only be set in your user config"):
        load_settings(root)


def test_project_config_may_not_set_ssl_verify(dirs: tuple[Path, Path]) -> None:
    """A repository cannot choose which certificates the user's key is sent past."""
    _, root = dirs
    write(root / ".tiller", "ssl_verify = false\n")
    with pytest.raises(ConfigError, match="ssl_verify may only be set in your user config"):
        load_settings(root)


@pytest.mark.parametrize(
    ("where", "text", "expected"),
    [
        ("user", 'ssl_verify = "/etc/company-ca.pem"\n', "/etc/company-ca.pem"),
        ("user", "ssl_verify = false\n", False),
        ("env", "false", "false"),
    ],
)
def test_ssl_verify_reaches_the_provider_options(
    dirs: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, where: str, text: str, expected: Any
) -> None:
    """`ssl_verify` from the user's config or TILLER_SSL_VERIFY becomes a provider option."""
    user_dir, root = dirs
    if where == "user":
        write(user_dir, text)
    else:
        monkeypatch.setenv("TILLER_SSL_VERIFY", text)
    assert load_settings(root).llm_options()["ssl_verify"] == expected
