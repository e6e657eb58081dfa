"""The `theme` setting: validated like every other key, and remembered when picked in the TUI."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from textual.theme import BUILTIN_THEMES

from tiller.settings import ENV_VARS, THEMES, ConfigError, load_settings, remember_theme


@pytest.fixture
def user_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The user config dir, with no TILLER_* variables set."""
    monkeypatch.setenv("TILLER_CONFIG_DIR", str(tmp_path))
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def test_the_theme_list_is_textuals() -> None:
    """Settings name exactly the themes Textual ships (without importing Textual)."""
    assert tuple(BUILTIN_THEMES) == THEMES


def test_an_unknown_theme_in_a_file_stops_tiller(user_dir: Path) -> None:
    """`theme = "nope"` is a ConfigError naming the file and the key, like any bad value."""
    path = user_dir / "config.toml"
    path.write_text('theme = "nope"\n')
    with pytest.raises(ConfigError, match=re.escape(f"{path}: theme must be one of")):
        load_settings(None)


def test_an_unknown_theme_in_the_environment_is_named(
    user_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A TILLER_THEME that is no theme names the variable."""
    monkeypatch.setenv("TILLER_THEME", "nope")
    with pytest.raises(ConfigError, match="TILLER_THEME must be one of"):
        load_settings(None)


def test_a_known_theme_is_used(user_dir: Path) -> None:
    """A known theme loads."""
    (user_dir / "config.toml").write_text('theme = "nord"\n')
    assert load_settings(None).theme == "nord"


def test_remember_theme_creates_the_file(tmp_path: Path) -> None:
    """With no config file yet, one with just the theme is written."""
    remember_theme("dracula", tmp_path / "new" / "config.toml")
    assert (tmp_path / "new" / "config.toml").read_text() == 'theme = "dracula"\n'


def test_remember_theme_replaces_the_top_level_line_only(tmp_path: Path) -> None:
    """The old top-level theme line is replaced; comments, tables and keys stay."""
    path = tmp_path / "config.toml"
    path.write_text('# mine\ntheme = "nord"\nmodel = "m"\n\n[limits]\ncompact_ratio = 0.5\n')
    remember_theme("monokai", path)
    assert path.read_text() == (
        '# mine\ntheme = "monokai"\nmodel = "m"\n\n[limits]\ncompact_ratio = 0.5\n'
    )


def test_remember_theme_refuses_an_unknown_name(tmp_path: Path) -> None:
    """Only a known theme is written."""
    with pytest.raises(ConfigError, match="theme must be one of"):
        remember_theme("nope", tmp_path / "config.toml")
    assert not (tmp_path / "config.toml").exists()


def test_a_remembered_theme_is_loaded_next_time(user_dir: Path) -> None:
    """What the TUI writes is what the next start reads."""
    (user_dir / "config.toml").write_text('model = "m"\n')
    remember_theme("gruvbox", user_dir / "config.toml")
    assert load_settings(None).theme == "gruvbox"
