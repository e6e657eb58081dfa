"""Turning the shell on and approving commands: config, environment, flags, headless runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tiller.cli import app
from tiller.settings import ConfigError, load_settings
from tiller.testing.server import FakeOpenAIServer, ServerReply

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(autouse=True)
def user_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "user-config"
    directory.mkdir()
    monkeypatch.setenv("TILLER_CONFIG_DIR", str(directory))
    monkeypatch.delenv("TILLER_SHELL", raising=False)
    return directory / "config.toml"


def test_shell_is_off_by_default(tmp_path: Path) -> None:
    """Without config, flags or environment the shell stays off."""
    assert load_settings(tmp_path, env={}).config.shell is False


def test_user_config_shell_table(tmp_path: Path, user_config: Path) -> None:
    """[shell] enabled, allow, timeout_ms and approval reach the session config."""
    user_config.write_text(
        '[shell]\nenabled = true\nallow = ["pytest", "git *"]\ntimeout_ms = 30000\n'
        'approval = "deny"\n'
    )
    config = load_settings(tmp_path, env={}).config
    assert (config.shell, config.shell_allow, config.shell_timeout_ms, config.shell_approval) == (
        True,
        ("pytest", "git *"),
        30000,
        "deny",
    )


def test_project_config_may_enable_but_not_approve(tmp_path: Path) -> None:
    """A repository's own config cannot put commands on the allow-list."""
    (tmp_path / ".tiller").mkdir()
    (tmp_path / ".tiller" / "config.toml").write_text('[shell]\nallow = ["curl *"]\n')
    with pytest.raises(ConfigError, match="user config"):
        load_settings(tmp_path, env={})


def test_bad_shell_value_names_the_key(tmp_path: Path, user_config: Path) -> None:
    """A wrong type under [shell] is a clear error naming the key."""
    user_config.write_text('[shell]\nallow = "pytest"\n')
    with pytest.raises(ConfigError, match=r"shell\.allow"):
        load_settings(tmp_path, env={})


@pytest.mark.parametrize(("value", "enabled"), [("1", True), ("true", True), ("0", False)])
def test_tiller_shell_environment_variable(tmp_path: Path, value: str, enabled: bool) -> None:
    """TILLER_SHELL turns the shell on or off."""
    assert load_settings(tmp_path, env={"TILLER_SHELL": value}).config.shell is enabled


def test_flags_enable_and_approve(tmp_path: Path) -> None:
    """--shell enables, --yes approves everything."""
    config = load_settings(tmp_path, flags={"shell": True, "yes": True}, env={}).config
    assert (config.shell, config.shell_approval) == (True, "allow")


# -- headless runs against the local server (the real litellm path) --------------------------

MAKE = ServerReply(
    tool_calls=[("shell", json.dumps({"command": "echo made > made.txt", "description": "x"}))]
)


def run(server: FakeOpenAIServer, root: Path, *args: str) -> object:
    base = ["run", "--model", "openai/fake-model", "--api-base", server.base_url]
    base += ["--root", str(root), "--skills-dir", str(root / "no-skills")]
    return CliRunner().invoke(app, [*base, *args], env={"OPENAI_API_KEY": "sk-test"})


def test_headless_without_yes_refuses_and_says_how(fake_server, tmp_path: Path) -> None:
    """`tiller run --shell` cannot ask, so the command is refused with advice, not a hang."""
    fake_server.add(MAKE, ServerReply(text="Could not run it."))
    result = run(fake_server, tmp_path, "--shell", "make a file")
    tool_message = fake_server.requests[1].body["messages"][-1]["content"]
    assert (result.exit_code, "--yes" in tool_message) == (0, True)


def test_headless_refusal_says_why(fake_server, tmp_path: Path) -> None:
    """The headless refusal tells the model what in the command needs approval."""
    fake_server.add(MAKE, ServerReply(text="Could not run it."))
    run(fake_server, tmp_path, "--shell", "make a file")
    tool_message = fake_server.requests[1].body["messages"][-1]["content"]
    assert "redirects output to a file (`> made.txt`)" in tool_message


def test_headless_with_yes_runs_in_the_sandbox(fake_server, tmp_path: Path) -> None:
    """With --yes the command runs; its file is in the patch and not on disk."""
    fake_server.add(MAKE, ServerReply(text="Made it."))
    patch = tmp_path / "out.patch"
    result = run(fake_server, tmp_path, "--shell", "--yes", "--diff", str(patch), "make a file")
    assert (result.exit_code, "+made" in patch.read_text(), (tmp_path / "made.txt").exists()) == (
        0,
        True,
        False,
    )


def test_headless_allow_list_runs_without_yes(
    fake_server, tmp_path: Path, user_config: Path
) -> None:
    """A command the user's allow-list names runs in a headless run."""
    user_config.write_text('[shell]\nallow = ["cp"]\n')
    (tmp_path / "seed.txt").write_text("made\n")
    copy = {"command": "cp seed.txt made.txt", "description": "x"}
    fake_server.add(ServerReply(tool_calls=[("shell", json.dumps(copy))]), ServerReply(text="ok"))
    patch = tmp_path / "out.patch"
    result = run(fake_server, tmp_path, "--shell", "--diff", str(patch), "make a file")
    assert (result.exit_code, "+made" in patch.read_text()) == (0, True)


def test_doctor_reports_the_shell(tmp_path: Path) -> None:
    """doctor says whether the shell is on and how commands are approved."""
    result = CliRunner().invoke(
        app, ["doctor", "--no-check-model", "--root", str(tmp_path), "--shell", "--yes"]
    )
    assert "Shell     on, runs every command (--yes)" in result.output


# -- confinement and network ---------------------------------------------------------------


def test_user_config_sandbox_and_network(tmp_path: Path, user_config: Path) -> None:
    """[shell] sandbox and network in the user's config reach the session config."""
    user_config.write_text('[shell]\nsandbox = "none"\nnetwork = true\n')
    config = load_settings(tmp_path, env={}).config
    assert (config.shell_sandbox, config.shell_network) == ("none", True)


@pytest.mark.parametrize("line", ['sandbox = "none"', "network = true"])
def test_project_config_cannot_lift_confinement(tmp_path: Path, line: str) -> None:
    """A repository's own config can neither unconfine its commands nor open the network."""
    (tmp_path / ".tiller").mkdir()
    (tmp_path / ".tiller" / "config.toml").write_text(f"[shell]\n{line}\n")
    with pytest.raises(ConfigError, match="user config"):
        load_settings(tmp_path, env={})


def test_bad_sandbox_mode_is_named(tmp_path: Path, user_config: Path) -> None:
    """An unknown sandbox mode is an error listing the known ones."""
    user_config.write_text('[shell]\nsandbox = "docker"\n')
    with pytest.raises(ConfigError, match="bwrap, none"):
        load_settings(tmp_path, env={})


def test_shell_network_flag(tmp_path: Path) -> None:
    """--shell-network turns the network on for commands; it is off by default."""
    on = load_settings(tmp_path, flags={"shell_network": True}, env={}).config
    off = load_settings(tmp_path, env={}).config
    assert (on.shell_network, off.shell_network) == (True, False)


def test_doctor_reports_the_network(tmp_path: Path) -> None:
    """doctor says commands are confined by bwrap and whether the network is on."""
    result = CliRunner().invoke(
        app, ["doctor", "--no-check-model", "--root", str(tmp_path), "--shell", "--shell-network"]
    )
    assert "bwrap sandbox, network on" in result.output


def test_doctor_reports_unconfined(tmp_path: Path, user_config: Path) -> None:
    """doctor says plainly when the user's config runs commands unconfined."""
    user_config.write_text('[shell]\nsandbox = "none"\n')
    result = CliRunner().invoke(
        app, ["doctor", "--no-check-model", "--root", str(tmp_path), "--shell"]
    )
    assert "UNCONFINED" in result.output


def test_headless_run_removes_its_sandbox(fake_server, tmp_path: Path) -> None:
    """`tiller run --shell` leaves no sandbox copy behind."""
    fake_server.add(MAKE, ServerReply(text="Made it."))
    sandboxes = tmp_path / "tmp"
    sandboxes.mkdir()
    root = tmp_path / "root"
    root.mkdir()
    argv = [sys.executable, "-c", "from tiller.cli import main; main()", "run", "--shell", "--yes"]
    argv += ["--model", "openai/fake-model", "--api-base", fake_server.base_url]
    argv += ["--transport", "openai", "--root", str(root), "--skills-dir", str(root / "none")]
    env = {**os.environ, "OPENAI_API_KEY": "sk-test", "TMPDIR": str(sandboxes)}
    done = subprocess.run([*argv, "make a file"], env=env, capture_output=True, text=True)
    assert (done.returncode, "Made it." in done.stdout, list(sandboxes.iterdir())) == (0, True, [])
