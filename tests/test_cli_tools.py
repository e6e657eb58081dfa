"""`tiller skills`, `tiller doctor` and the global options, through typer's CliRunner."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tiller import __version__
from tiller.cli import EXIT_TURN_LIMIT, app
from tiller.settings import ENV_VARS
from tiller.testing.server import ServerReply

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

GOOD = "---\nname: good-skill\ndescription: Does good things.\n---\nBody.\n"
BAD = "---\nname: broken\n---\nNo description.\n"


@pytest.fixture(autouse=True)
def hermetic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No real config, journals, TILLER_* variables or provider keys leak in."""
    monkeypatch.setenv("TILLER_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("TILLER_DATA_DIR", str(tmp_path / "data"))
    for name in [*ENV_VARS, "OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OPENROUTER_API_KEY"]:
        monkeypatch.delenv(name, raising=False)


def skill(directory: Path, name: str, text: str) -> Path:
    path = directory / name / "SKILL.md"
    path.parent.mkdir(parents=True)
    path.write_text(text, encoding="utf-8")
    return path


def invoke(*args: str) -> object:
    return CliRunner().invoke(app, list(args))


def test_skills_list_shows_name_source_description_and_path(tmp_path: Path) -> None:
    """skills list prints each skill's name, source, description and SKILL.md path."""
    path = skill(tmp_path / "skills", "good-skill", GOOD)
    result = invoke("skills", "list", "--skills-dir", str(tmp_path / "skills"))
    assert (result.exit_code, result.output.splitlines()[:2]) == (
        0,
        ["good-skill  [project]  Does good things.", f"    {path}"],
    )


def test_skills_list_summarises_diagnostics(tmp_path: Path) -> None:
    """skills list ends with a count of skills, errors and warnings."""
    skill(tmp_path / "skills", "good-skill", GOOD)
    skill(tmp_path / "skills", "broken", BAD)
    result = invoke("skills", "list", "--skills-dir", str(tmp_path / "skills"))
    assert result.output.splitlines()[-1] == "1 skill(s), 1 error(s), 0 warning(s)"


def test_skills_validate_good_skill_exits_zero(tmp_path: Path) -> None:
    """validate on a valid skill folder succeeds."""
    skill(tmp_path, "good-skill", GOOD)
    result = invoke("skills", "validate", str(tmp_path / "good-skill"))
    assert (result.exit_code, "ok: good-skill" in result.output) == (0, True)


def test_skills_validate_bad_skill_exits_non_zero(tmp_path: Path) -> None:
    """validate on a SKILL.md without a description reports an error and exits 1."""
    path = skill(tmp_path, "broken", BAD)
    result = invoke("skills", "validate", str(path))
    assert (result.exit_code, f"error: {path}" in result.output) == (1, True)


def test_skills_validate_only_checks_the_named_skill(tmp_path: Path) -> None:
    """Naming one skill folder ignores a broken sibling."""
    skill(tmp_path, "good-skill", GOOD)
    skill(tmp_path, "broken", BAD)
    result = invoke("skills", "validate", str(tmp_path / "good-skill"))
    assert result.exit_code == 0


def test_doctor_names_keys_but_never_prints_values(tmp_path, monkeypatch) -> None:
    """doctor lists a provider key that is set without ever printing its value."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-123")
    result = invoke("doctor", "--no-check-model", "--root", str(tmp_path), "-m", "openai/gpt-4o")
    assert (
        result.exit_code,
        "OPENAI_API_KEY: set" in result.output,
        "sk-secret-123" in result.output,
    ) == (0, True, False)


def test_doctor_shows_versions_and_paths(tmp_path: Path) -> None:
    """doctor shows the package versions and where config and sessions live."""
    result = invoke("doctor", "--no-check-model", "--root", str(tmp_path))
    expected = [
        f"tiller    {__version__}",
        str(tmp_path / "config" / "config.toml"),
        str(tmp_path / ".tiller" / "config.toml"),
        str(tmp_path / "data" / "sessions"),
    ]
    assert [line for line in expected if line not in result.output] == []


def test_doctor_reports_a_model_known_to_litellm(tmp_path: Path) -> None:
    """doctor asks litellm's model map whether the model is known."""
    result = invoke("doctor", "--root", str(tmp_path), "-m", "openai/gpt-4o")
    assert "known to litellm" in result.output


def test_flag_beats_env_beats_config_on_the_command_line(tmp_path, monkeypatch) -> None:
    """The model doctor reports follows flag > TILLER_MODEL > config file."""
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "config.toml").write_text('model = "cfg/m"\n', encoding="utf-8")
    seen = [invoke("doctor", "--no-check-model", "--root", str(tmp_path)).output]
    monkeypatch.setenv("TILLER_MODEL", "env/m")
    seen.append(invoke("doctor", "--no-check-model", "--root", str(tmp_path)).output)
    seen.append(invoke("doctor", "--no-check-model", "--root", str(tmp_path), "-m", "f/m").output)
    assert ["cfg/m" in seen[0], "env/m" in seen[1], "f/m  (from flag)" in seen[2]] == [True] * 3


def test_bad_config_file_is_a_usage_error(tmp_path: Path) -> None:
    """A broken project config exits 2 with the file and key, and no traceback."""
    (tmp_path / ".tiller").mkdir()
    path = tmp_path / ".tiller" / "config.toml"
    path.write_text("max_turns = 0\n", encoding="utf-8")
    result = invoke("run", "--root", str(tmp_path), "hello")
    assert (
        result.exit_code,
        f"{path}: max_turns must be" in result.output,
        "Traceback" in result.output,
    ) == (2, True, False)


def test_env_file_supplies_provider_keys(tmp_path: Path) -> None:
    """--env-file loads a key the provider reads (doctor sees it set)."""
    env = tmp_path / ".env"
    env.write_text("ANTHROPIC_API_KEY=sk-from-file\n", encoding="utf-8")
    args = ["doctor", "--no-check-model", "--root", str(tmp_path), "--env-file", str(env)]
    args += ["-m", "anthropic/claude-sonnet-4-5"]
    try:
        output = invoke(*args).output
    finally:
        os.environ.pop("ANTHROPIC_API_KEY", None)
    assert ("ANTHROPIC_API_KEY: set" in output, "sk-from-file" in output) == (True, False)


@pytest.mark.parametrize("command", [[], ["run"], ["chat"]])
def test_version_on_every_entry_point(command: list[str]) -> None:
    """--version works on the TUI entry point, run and chat."""
    result = invoke(*command, "--version")
    assert (result.exit_code, result.output) == (0, f"tiller {__version__}\n")


def test_shell_completion_options_exist() -> None:
    """typer's --install-completion and --show-completion are offered."""
    output = invoke("--help").output
    assert ("--install-completion" in output, "--show-completion" in output) == (True, True)


@pytest.mark.parametrize("command", [[], ["run"], ["chat"]])
def test_global_options_on_every_entry_point(command: list[str]) -> None:
    """Each entry point takes the global options."""
    output = invoke(*command, "--help").output
    flags = ["--model", "-m", "--profile", "--max-turns", "--root", "--skills-dir", "--api-base"]
    assert [f for f in [*flags, "--env-file", "--version"] if f not in output] == []


def test_tui_sessions_get_the_configured_limits(tmp_path: Path) -> None:
    """The TUI builds its sessions with the limits from config.toml."""
    from tiller.config import SessionConfig
    from tiller.testing.scripted import ScriptedModel
    from tiller.tui.app import TillerApp, TuiOptions

    config = SessionConfig(max_subagent_depth=0)
    options = TuiOptions(root=tmp_path, client=ScriptedModel(), config=config, preload=False)
    assert TillerApp(options).make_session().config is config


def test_global_options_before_the_subcommand_apply_to_it(fake_server, tmp_path: Path) -> None:
    """`tiller --max-turns 1 run ...` means `tiller run --max-turns 1 ...`."""
    write = ServerReply(tool_calls=[("write_file", json.dumps({"file_path": "a", "content": "A"}))])
    fake_server.add(write, write)
    args = ["--max-turns", "1", "-m", "openai/fake", "--api-base", fake_server.base_url]
    args += ["--root", str(tmp_path), "--skills-dir", str(tmp_path / "none"), "run", "go"]
    result = CliRunner().invoke(app, args, env={"OPENAI_API_KEY": "sk-test"})
    assert result.exit_code == EXIT_TURN_LIMIT


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["-m", "openrouter/anthropic/claude-sonnet-4.5"], "Transport openai  (lean"),
        (
            ["-m", "anthropic/claude-sonnet-4-5"],
            "Transport litellm  (every provider; setting auto)",
        ),
        (["-m", "openai/gpt-4o", "--transport", "litellm"], "Transport litellm"),
    ],
)
def test_doctor_says_which_transport_the_model_uses(
    tmp_path: Path, args: list[str], expected: str
) -> None:
    """doctor names the transport auto (or the setting) picks for the model."""
    result = invoke("doctor", "--no-check-model", "--root", str(tmp_path), *args)
    line = next(x for x in result.output.splitlines() if x.startswith("Transport"))
    assert line.startswith(expected)
