"""`tiller sessions ...`, `--resume` and `--continue` through typer's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tiller.cli import EXIT_USAGE, app
from tiller.journal import Journal, list_journals, load_journal
from tiller.session import Session
from tiller.testing.scripted import ScriptedModel, call
from tiller.testing.server import FakeOpenAIServer, ServerReply

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture
def saved(tmp_path: Path) -> Session:
    """A finished, journaled session that wrote one file."""
    root = tmp_path / "project"
    root.mkdir()
    model = ScriptedModel(
        [call("write_file", file_path="a.txt", content="A\n"), "Wrote **a.txt**."],
        model="scripted/claude-test",
    )
    session = Session(model, root=root)
    Journal.attach(session)
    session.send("please make a.txt")
    session.close()
    return session


def invoke(*args: str, **kwargs: object) -> object:
    return CliRunner().invoke(app, list(args), **kwargs)  # type: ignore[arg-type]


def test_list_shows_id_model_root_prompt_and_turns(saved: Session) -> None:
    """`sessions list` has one entry per journal with its first prompt."""
    result = invoke("sessions", "list")
    assert result.exit_code == 0, result.output
    assert saved.id in result.output
    assert "scripted/claude-test" in result.output
    assert str(saved.workspace.root) in result.output
    assert "please make a.txt" in result.output


def test_list_json(saved: Session) -> None:
    """`sessions list --json` gives one object per line."""
    result = invoke("sessions", "list", "--json")
    [row] = [json.loads(line) for line in result.output.splitlines()]
    assert (row["id"], row["turns"], row["prompts"], row["first_prompt"]) == (
        saved.id,
        4,
        1,
        "please make a.txt",
    )


def test_list_empty() -> None:
    """No journals: a friendly line, exit 0."""
    result = invoke("sessions", "list")
    assert (result.exit_code, result.output) == (0, "No saved sessions.\n")


def test_show_prints_the_conversation(saved: Session) -> None:
    """`sessions show ID` prints prompts, answers, tool calls and the unflushed files."""
    result = invoke("sessions", "show", saved.id[:6])
    assert result.exit_code == 0, result.output
    for expected in ("You> please make a.txt", "[tool] write_file", "Wrote **a.txt**.", "a.txt"):
        assert expected in result.output


def test_export_markdown(saved: Session, tmp_path: Path) -> None:
    """`sessions export --format md -o FILE` writes Markdown headings per turn."""
    out = tmp_path / "s.md"
    result = invoke("sessions", "export", saved.id, "--format", "md", "-o", str(out))
    text = out.read_text()
    assert result.exit_code == 0
    assert text.startswith(f"# Tiller session {saved.id}\n")
    assert "## User\n\nplease make a.txt" in text
    assert "**Tool call** `write_file`" in text


def test_export_into_a_missing_directory_is_one_line(saved: Session, tmp_path: Path) -> None:
    """`sessions export -o` into a directory that does not exist: exit 1, no traceback."""
    out = tmp_path / "missing" / "s.md"
    result = invoke("sessions", "export", saved.id, "-o", str(out))
    assert (result.exit_code, result.stderr) == (
        1,
        f"tiller: cannot write {out}: No such file or directory\n",
    )


def test_export_json_round_trips_turns(saved: Session) -> None:
    """`sessions export --format json` holds the turns, overlay and usage."""
    result = invoke("sessions", "export", saved.id, "--format", "json")
    data = json.loads(result.output)
    assert [t["role"] for t in data["turns"]] == ["user", "assistant", "tool_results", "assistant"]
    assert data["files"] == {"a.txt": "A\n"}
    assert data["usage"]["input_tokens"] == 20


def test_export_unknown_format(saved: Session) -> None:
    """An unknown format is a usage error."""
    assert invoke("sessions", "export", saved.id, "--format", "pdf").exit_code == EXIT_USAGE


def test_unknown_id_is_an_error() -> None:
    """A missing session says so and exits 1."""
    result = invoke("sessions", "show", "nosuchid")
    assert result.exit_code == 1
    assert "No session 'nosuchid'" in result.output


def test_rm_deletes_one(saved: Session) -> None:
    """`sessions rm ID` deletes that journal."""
    result = invoke("sessions", "rm", saved.id)
    assert (result.exit_code, result.output, list_journals()) == (0, f"Deleted {saved.id}\n", [])


def test_rm_all_asks_first(saved: Session) -> None:
    """`sessions rm --all` asks; 'n' keeps everything, --yes does not ask."""
    kept = invoke("sessions", "rm", "--all", input="n\n")
    assert (kept.exit_code, len(list_journals())) == (1, 1)
    gone = invoke("sessions", "rm", "--all", "--yes")
    assert (gone.exit_code, list_journals()) == (0, [])


def run_cli(server: FakeOpenAIServer, root: Path, *args: str) -> object:
    base = ["run", "--model", "openai/fake-model", "--api-base", server.base_url]
    base += ["--root", str(root), "--skills-dir", str(root / "no-skills")]
    return invoke(*base, *args, env={"OPENAI_API_KEY": "sk-test-cli-sessions-key"})


def test_run_resume_and_continue(fake_server: FakeOpenAIServer, tmp_path: Path) -> None:
    """`run` journals; `--resume ID` and `--continue` go on with the same history and files."""
    write = json.dumps({"file_path": "a.txt", "content": "A\n"})
    fake_server.add(ServerReply(tool_calls=[("write_file", write)]), ServerReply(text="made"))
    fake_server.add(ServerReply(text="resumed"), ServerReply(text="continued"))
    first = run_cli(fake_server, tmp_path, "make a.txt")
    [summary] = list_journals(tmp_path)
    second = run_cli(fake_server, tmp_path, "--resume", summary.id, "again")
    third = run_cli(fake_server, tmp_path, "--continue", "--diff", str(tmp_path / "p"), "more")
    assert [r.exit_code for r in (first, second, third)] == [0, 0, 0]
    assert [r.stdout for r in (first, second, third)] == ["made\n", "resumed\n", "continued\n"]
    assert len(list_journals()) == 1
    last = fake_server.requests[-1].body["messages"]
    assert [m["content"] for m in last if m["role"] == "user"] == ["make a.txt", "again", "more"]
    assert "+A" in (tmp_path / "p").read_text()
    assert load_journal(summary.id).files == {"a.txt": "A\n"}
    assert "sk-test-cli-sessions-key" not in summary.path.read_text()


def test_continue_without_a_session(tmp_path: Path) -> None:
    """`--continue` with nothing saved for this root is a usage error."""
    result = invoke("run", "--root", str(tmp_path), "--continue", "hi")
    assert result.exit_code == EXIT_USAGE
    assert "no saved session to continue" in result.output


def test_resume_and_continue_together(tmp_path: Path) -> None:
    """Both at once is a usage error."""
    result = invoke("run", "--root", str(tmp_path), "--resume", "x", "--continue", "hi")
    assert result.exit_code == EXIT_USAGE


def test_continue_flush_never_writes_a_redacted_file(
    fake_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    """A file holding a key is not journaled: `--continue --flush` leaves it be and says so."""
    env_file = tmp_path / ".env"
    env_file.write_text("OPENAI_API_KEY=sk-test-cli-sessions-key\n")
    edit = json.dumps(
        {"file_path": ".env", "old_string": "OPENAI", "new_string": "DEBUG=1\nOPENAI"}
    )
    fake_server.add(ServerReply(tool_calls=[("edit_file", edit)]), ServerReply(text="edited"))
    fake_server.add(ServerReply(text="flushing"))
    first = run_cli(fake_server, tmp_path, "add DEBUG to .env")
    second = run_cli(fake_server, tmp_path, "--continue", "--flush", "go on")
    assert (first.exit_code, second.exit_code) == (0, 0)
    assert env_file.read_text() == "OPENAI_API_KEY=sk-test-cli-sessions-key\n"
    assert "warning: .env" in second.output


@pytest.fixture
def awkward(tmp_path: Path) -> Session:
    """A journaled session with a surrogate-escaped file name and a file holding a key."""
    root = tmp_path / "awkward"
    root.mkdir()
    session = Session(ScriptedModel(), root=root, api_key="sk-test-awkward-key-0123")
    Journal.attach(session)
    session.workspace.write("caf\udce9.txt", "café\n")
    session.workspace.write(".env", "KEY=sk-test-awkward-key-0123\n")
    session.close()
    return session


def test_show_names_withheld_files_and_escapes_names(awkward: Session) -> None:
    """`sessions show` lists the withheld file and prints a non-UTF-8 name as the tools do."""
    result = invoke("sessions", "show", awkward.id)
    assert result.exit_code == 0, result.output
    assert "  written  caf\\xe9.txt\n" in result.output
    assert "  withheld .env (not journaled: the file holds a credential)\n" in result.output


def test_export_and_list_json_parse_with_awkward_names(awkward: Session) -> None:
    """`sessions export --format json` and `sessions list --json` stay valid JSON."""
    exported = json.loads(invoke("sessions", "export", awkward.id, "--format", "json").stdout)
    listed = [json.loads(line) for line in invoke("sessions", "list", "--json").stdout.splitlines()]
    assert (exported["files"], exported["withheld"]) == (
        {"caf\udce9.txt": "café\n"},
        {".env": "holds a credential"},
    )
    assert [row["id"] for row in listed] == [awkward.id]
