"""`tiller PROMPT` routing, `tiller -p PROMPT` and piped stdin (headless, like `claude -p`)."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer.main
from typer.testing import CliRunner

from tiller.cli import PROMPT_KEY, app
from tiller.testing.server import FakeOpenAIServer, ServerReply

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def parsed(*args: str) -> tuple[str | None, str | None, dict[str, object]]:
    """(prompt, subcommand, options) as the command line is read, without running anything."""
    group = typer.main.get_command(app)
    ctx = group.make_context("tiller", list(args), resilient_parsing=True)
    subcommand = (ctx._protected_args or [None])[0]
    return ctx.meta.get(PROMPT_KEY), subcommand, ctx.params


def headless(server: FakeOpenAIServer, root: Path, args: list[str], stdin: str | None):
    base = ["--model", "openai/fake-model", "--api-base", server.base_url, "--root", str(root)]
    env = {"OPENAI_API_KEY": "sk-test"}
    return CliRunner().invoke(app, [*base, *args], env=env, input=stdin)


def test_a_quoted_prompt_is_a_prompt_not_a_command() -> None:
    """`tiller "fix the bug"` is read as a prompt for the TUI."""
    prompt, subcommand, _ = parsed("fix the bug")
    assert (prompt, subcommand) == ("fix the bug", None)


def test_bare_words_make_one_prompt() -> None:
    """`tiller fix the bug` is the same prompt."""
    assert parsed("fix", "the", "bug")[0] == "fix the bug"


def test_options_after_the_prompt_still_count() -> None:
    """`tiller "fix it" --model m` uses model m and keeps the prompt clean."""
    prompt, _, params = parsed("fix it", "--model", "openai/m", "--yes")
    assert (prompt, params["model"], params["yes"]) == ("fix it", "openai/m", True)


def test_a_subcommand_is_still_a_subcommand() -> None:
    """`tiller run x` runs the subcommand; nothing is taken as a prompt."""
    prompt, subcommand, _ = parsed("--model", "openai/m", "run", "x")
    assert (prompt, subcommand) == (None, "run")


def test_a_mistyped_subcommand_is_refused() -> None:
    """`tiller sesions` says there is no such command instead of sending the word."""
    result = CliRunner().invoke(app, ["sesions"])
    assert (result.exit_code, "No such command 'sesions'" in result.output) == (2, True)


def test_print_runs_headless_and_prints_the_answer(fake_server, tmp_path: Path) -> None:
    """`tiller -p PROMPT` prints the final answer, as `tiller run PROMPT` does."""
    fake_server.add(ServerReply(text="Printed answer."))
    result = headless(fake_server, tmp_path, ["-p", "say it"], stdin="")
    assert (result.exit_code, result.stdout) == (0, "Printed answer.\n")
    assert fake_server.requests[0].body["messages"][-1]["content"] == "say it"


def test_piped_stdin_is_the_prompt(fake_server, tmp_path: Path) -> None:
    """`echo PROMPT | tiller` runs headless with the piped text."""
    fake_server.add(ServerReply(text="From a pipe."))
    result = headless(fake_server, tmp_path, [], stdin="explain this\n")
    assert (result.exit_code, result.stdout) == (0, "From a pipe.\n")
    assert fake_server.requests[0].body["messages"][-1]["content"] == "explain this"


def test_piped_stdin_goes_under_the_prompt(fake_server, tmp_path: Path) -> None:
    """`cat log | tiller "why?"` sends the prompt with the piped text under it."""
    fake_server.add(ServerReply(text="Because."))
    result = headless(fake_server, tmp_path, ["why?"], stdin="line 1\nline 2\n")
    assert result.exit_code == 0
    assert fake_server.requests[0].body["messages"][-1]["content"] == "why?\n\nline 1\nline 2"


def test_an_empty_pipe_is_a_usage_error(fake_server, tmp_path: Path) -> None:
    """Nothing piped and no prompt: exit 2 with a message, no request."""
    result = headless(fake_server, tmp_path, [], stdin="")
    assert (result.exit_code, fake_server.requests) == (2, [])
