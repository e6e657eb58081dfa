"""The shell tool: sandbox copy, changes brought back, limits, environment, approvals."""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path

import pytest

from tiller import EventKind, Session, SessionConfig
from tiller.approvals import Approval, ApprovalPolicy, Decision, allowed_by_list
from tiller.errors import FlushConflict, ToolError
from tiller.events import Event
from tiller.shell.environment import sandbox_env
from tiller.shell.process import run_command
from tiller.shell.runner import ShellRunner, ShellSettings
from tiller.testing.processes import live_processes
from tiller.testing.scripted import ScriptedModel, Step, call
from tiller.workspace import Workspace


def allow_all(details: dict[str, object]) -> Approval:
    return Approval(Decision.ALLOW)


def runner_for(workspace: Workspace, **settings: object) -> ShellRunner:
    return ShellRunner(
        workspace,
        policy=ApprovalPolicy("allow"),
        ask=allow_all,
        settings=ShellSettings(**settings),  # type: ignore[arg-type]
    )


def run(runner: ShellRunner, command: str, timeout_ms: int | None = None) -> str:
    return runner.run(
        command,
        timeout_ms=timeout_ms,
        description="",
        cancel=threading.Event(),
        on_output=lambda _: None,
    )


def running(marker: str) -> list[int]:
    """Live host processes whose command line contains `marker`."""
    return [pid for pid, cmdline in live_processes() if marker in cmdline]


# -- the sandbox ---------------------------------------------------------------------


def test_command_sees_an_in_memory_edit(tmp_path: Path) -> None:
    """A file only the workspace has is readable by the command."""
    workspace = Workspace(files={"only_here.txt": "from memory\n"}, root=tmp_path)
    out = run(runner_for(workspace), "python3 -c \"print(open('only_here.txt').read())\"")
    assert "from memory" in out


def test_command_sees_an_edit_over_a_base_file(tmp_path: Path) -> None:
    """The overlay's version of a base file wins in the sandbox."""
    (tmp_path / "a.txt").write_text("disk\n")
    workspace = Workspace(root=tmp_path)
    workspace.write("a.txt", "memory\n")
    assert "memory" in run(runner_for(workspace), "cat a.txt")


def test_new_file_lands_in_workspace_not_on_disk(tmp_path: Path) -> None:
    """What a command creates shows in files() and diff(), never in the real tree."""
    workspace = Workspace(root=tmp_path)
    run(runner_for(workspace), "echo made > made.txt")
    assert (workspace.files(), "+++ b/made.txt" in workspace.diff(), os.listdir(tmp_path)) == (
        {"made.txt": "made\n"},
        True,
        [],
    )


def test_rm_rf_leaves_real_tree_untouched(tmp_path: Path) -> None:
    """`rm -rf ./*` empties the sandbox; the real files stay, the workspace shows deletions."""
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text("x = 1\n")
    (tmp_path / "README.md").write_text("hi\n")
    workspace = Workspace(root=tmp_path)
    run(runner_for(workspace), "rm -rf ./*")
    assert (
        sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")),
        sorted(workspace.changes()),
    ) == (
        ["README.md", "src", "src/app.py"],
        [("README.md", "deleted"), ("src/app.py", "deleted")],
    )


def test_modified_file_comes_back_as_modified(tmp_path: Path) -> None:
    """A base file a command changes is a `modified` change."""
    (tmp_path / "n.txt").write_text("1\n")
    workspace = Workspace(root=tmp_path)
    out = run(runner_for(workspace), "echo 2 >> n.txt")
    assert (workspace.read("n.txt"), "M n.txt" in out) == ("1\n2\n", True)


def _save_while_running(runner: ShellRunner, file: Path, text: str, command: str) -> str:
    """Run `command` (it must echo `go` first); the person saves `file` when `go` is printed."""

    def save(delta: str) -> None:
        if "go" in delta:
            file.write_text(text)

    return runner.run(
        command, timeout_ms=None, description="", cancel=threading.Event(), on_output=save
    )


def test_a_file_saved_on_disk_while_a_command_changed_it_keeps_the_save(tmp_path: Path) -> None:
    """The person saves n.txt while a command appends to it: flushing never overwrites the save."""
    (tmp_path / "n.txt").write_text("1\n")
    workspace = Workspace(root=tmp_path)
    _save_while_running(
        runner_for(workspace), tmp_path / "n.txt", "1\nmine\n", "echo go; echo 2 >> n.txt"
    )
    with contextlib.suppress(FlushConflict):
        workspace.flush()
    assert (tmp_path / "n.txt").read_text() == "1\nmine\n"


def test_a_file_saved_on_disk_while_a_command_deleted_it_keeps_the_save(tmp_path: Path) -> None:
    """The person saves n.txt while a command deletes it: flushing never deletes the save."""
    (tmp_path / "n.txt").write_text("1\n")
    workspace = Workspace(root=tmp_path)
    _save_while_running(runner_for(workspace), tmp_path / "n.txt", "1\nmine\n", "echo go; rm n.txt")
    with contextlib.suppress(FlushConflict):
        workspace.flush()
    assert (tmp_path / "n.txt").read_text() == "1\nmine\n"


def test_a_file_created_on_disk_while_a_command_created_it_keeps_the_person_s(
    tmp_path: Path,
) -> None:
    """The person creates n.txt while a command creates it too: flushing never overwrites theirs."""
    workspace = Workspace(root=tmp_path)
    _save_while_running(
        runner_for(workspace), tmp_path / "n.txt", "mine\n", "echo go; echo 2 > n.txt"
    )
    with contextlib.suppress(FlushConflict):
        workspace.flush()
    assert (tmp_path / "n.txt").read_text() == "mine\n"


def test_command_runs_in_the_session_cwd(tmp_path: Path) -> None:
    """Commands start in the session's working directory inside the sandbox."""
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "here.txt").write_text("x")
    out = run(runner_for(Workspace(root=tmp_path), cwd="pkg"), "ls")
    assert "here.txt" in out


def test_sync_is_incremental(tmp_path: Path) -> None:
    """A second sync copies nothing; an edit copies one file."""
    for i in range(5):
        (tmp_path / f"f{i}.txt").write_text(str(i))
    workspace = Workspace(root=tmp_path)
    runner = runner_for(workspace)
    first = runner.sandbox.sync()
    second = runner.sandbox.sync()
    workspace.write("f1.txt", "changed")
    third = runner.sandbox.sync()
    assert (first, second, third) == (5, 0, 1)


def test_workspace_delete_reaches_the_sandbox(tmp_path: Path) -> None:
    """A file deleted in the workspace is gone for the next command."""
    (tmp_path / "gone.txt").write_text("x")
    workspace = Workspace(root=tmp_path)
    runner = runner_for(workspace)
    run(runner, "true")
    workspace.delete("gone.txt")
    assert "No such file" in run(runner, "cat gone.txt")


def test_caches_and_ignored_files_do_not_come_back(tmp_path: Path) -> None:
    """__pycache__ and .gitignored outputs stay in the sandbox."""
    (tmp_path / ".gitignore").write_text("build/\n")
    workspace = Workspace(root=tmp_path)
    run(runner_for(workspace), "mkdir -p build __pycache__ && touch build/out __pycache__/m.pyc")
    assert workspace.changes() == []


def test_binary_output_is_reported_not_imported(tmp_path: Path) -> None:
    """A binary file a command writes is named in the result and not put in the workspace."""
    workspace = Workspace(root=tmp_path)
    out = run(runner_for(workspace), "printf 'a\\0b' > blob.bin")
    assert ("blob.bin" in out.split("Binary files")[-1], workspace.changes()) == (True, [])


def test_close_removes_the_sandbox(tmp_path: Path) -> None:
    """Closing the runner deletes the sandbox directory."""
    runner = runner_for(Workspace(files={"a": "b"}))
    run(runner, "true")
    where = runner.sandbox.path
    runner.close()
    assert not where.exists()


# -- limits ----------------------------------------------------------------------------


def test_timeout_kills_the_command_and_its_children(tmp_path: Path) -> None:
    """`sleep 30` with a 1 s timeout is stopped, child processes included."""
    workspace = Workspace(root=tmp_path)
    sleeper = f"sleep 30.{os.getpid() % 100000:05d}"  # unique to this process
    out = run(runner_for(workspace), f"{sleeper} & echo started; wait", timeout_ms=1000)
    assert ("Timed out after 1 s" in out, "started" in out, running(sleeper)) == (
        True,
        True,
        [],
    )


def test_sigkill_follows_when_sigterm_is_ignored(tmp_path: Path) -> None:
    """A group that ignores SIGTERM is killed after the grace period."""
    result = run_command(
        "trap '' TERM; sleep 30",
        cwd=tmp_path,
        env={"PATH": os.environ["PATH"]},
        timeout=0.3,
        cancel=threading.Event(),
        on_output=lambda _: None,
        kill_grace=0.3,
    )
    assert (result.timed_out, result.exit_code) == (True, None)


def test_cancel_stops_a_running_command(tmp_path: Path) -> None:
    """Setting the cancel flag stops the command promptly."""
    cancel = threading.Event()

    def on_output(text: str) -> None:
        if "ready" in text:
            cancel.set()

    result = run_command(
        "echo ready; sleep 30",
        cwd=tmp_path,
        env={"PATH": os.environ["PATH"]},
        timeout=60,
        cancel=cancel,
        on_output=on_output,
    )
    assert (result.cancelled, result.output) == (True, "ready\n")


def test_background_leftovers_are_stopped(tmp_path: Path) -> None:
    """A background process still holding the output is stopped when the command exits."""
    result = run_command(
        "sleep 30 &",
        cwd=tmp_path,
        env={"PATH": os.environ["PATH"]},
        timeout=10,
        cancel=threading.Event(),
        on_output=lambda _: None,
        kill_grace=0.5,
    )
    assert (result.exit_code, result.stopped_leftovers) == (0, True)


def test_timeout_is_capped_at_ten_minutes(tmp_path: Path) -> None:
    """A timeout_ms over the cap is reduced, and the model is told."""
    out = run(runner_for(Workspace(root=tmp_path)), "true", timeout_ms=3_600_000)
    assert "capped at 600000" in out


def test_exit_code_is_reported(tmp_path: Path) -> None:
    """A failing command's exit code reaches the model."""
    assert "Exit code: 3" in run(runner_for(Workspace(root=tmp_path)), "exit 3")


# -- environment -------------------------------------------------------------------------


def test_api_key_is_not_visible_to_the_command(tmp_path: Path) -> None:
    """A key in the environment never reaches the command."""
    environ = {"PATH": os.environ["PATH"], "OPENAI_API_KEY": "sk-live-123", "LANG": "C.UTF-8"}
    out = run(runner_for(Workspace(root=tmp_path), environ=environ), "env")
    assert ("sk-live-123" in out, "LANG=C.UTF-8" in out) == (False, True)


def test_process_environment_keys_are_filtered(tmp_path: Path, monkeypatch) -> None:
    """With the real os.environ, a secret exported by the user is removed."""
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-secret")
    assert "sk-ant-secret" not in run(runner_for(Workspace(root=tmp_path)), "env")


def test_path_entries_inside_the_root_are_dropped(tmp_path: Path) -> None:
    """A `grep` the model planted in the project's `.venv/bin` is not what `grep` runs."""
    workspace = Workspace(root=tmp_path)
    workspace.write(".venv/bin/grep", "#!/bin/sh\necho PLANTED\n")
    environ = {"PATH": f"{tmp_path}/.venv/bin:.:{os.environ['PATH']}", "LANG": "C.UTF-8"}
    runner = runner_for(workspace, environ=environ)
    out = run(runner, "chmod +x .venv/bin/grep; echo x | grep x; echo PATH=$PATH")
    assert ("PLANTED" in out, f"{tmp_path}/.venv/bin" in out) == (False, False)


@pytest.mark.parametrize("name", ["BASH_ENV", "RIPGREP_CONFIG_PATH", "LD_PRELOAD", "GIT_EXEC_PATH"])
def test_code_loading_variables_naming_the_root_are_dropped(name: str) -> None:
    """A variable that makes `ls`, `rg` or `git` load a file the model can write is removed."""
    env = sandbox_env({name: "/work/proj/.tools/x", "PATH": "/usr/bin"}, untrusted="/work/proj")
    assert name not in env


@pytest.mark.parametrize(
    "name",
    [
        "OPENAI_API_KEY",
        "GITHUB_TOKEN",
        "DB_PASSWORD",
        "APP_SECRET",
        "GCP_CREDENTIAL",
        "AWS_SECRET_ACCESS_KEY",
        "github_token",
        "SECRET_KEY",
        "OPENAI_KEY",
        "GH_AUTH",
        "DB_PASS",
        "SESSION_COOKIE",
        "MY_APIKEY",
        "NPM_CONFIG__AUTH",
    ],
)
def test_secret_names_are_dropped(name: str) -> None:
    """Every secret-looking name is removed."""
    assert name not in sandbox_env({name: "x"})


def test_variable_holding_a_known_token_format_is_dropped() -> None:
    """A provider key under an innocent name (`LLM=sk-ant-...`) does not reach a command."""
    assert "LLM" not in sandbox_env({"LLM": "sk-ant-api03-" + "a1B2c3D4e5F6g7H8i9J0k"})


def test_variable_holding_url_credentials_is_dropped() -> None:
    """A URL with a password in it (DATABASE_URL) does not reach a command."""
    assert "DATABASE_URL" not in sandbox_env({"DATABASE_URL": "postgres://u:hunter22@db/app"})


@pytest.mark.parametrize("name", ["PATH", "HOME", "LANG", "TERM", "LC_ALL", "PYTHONPATH", "GOPATH"])
def test_usual_variables_are_kept(name: str) -> None:
    """PATH, HOME, LANG, TERM and language variables pass through."""
    assert sandbox_env({name: "x"}).get(name) == "x"


# -- approvals (runner level) ---------------------------------------------------------------


def test_denial_returns_the_reason_and_does_not_run(tmp_path: Path) -> None:
    """A denied command does not run; the person's reason reaches the model."""
    workspace = Workspace(root=tmp_path)
    runner = ShellRunner(
        workspace,
        policy=ApprovalPolicy("ask"),
        ask=lambda details: Approval(Decision.DENY, "use make instead"),
    )
    with pytest.raises(ToolError, match="use make instead"):
        run(runner, "touch ran.txt")
    assert workspace.changes() == []


def test_allow_for_session_asks_once(tmp_path: Path) -> None:
    """After "allow for this session" the same command runs without asking."""
    asked: list[object] = []

    def ask(details: dict[str, object]) -> Approval:
        asked.append(details["command"])
        return Approval(Decision.ALLOW_SESSION)

    runner = ShellRunner(Workspace(root=tmp_path), policy=ApprovalPolicy("ask"), ask=ask)
    run(runner, "touch hi")
    run(runner, "touch hi")
    assert asked == ["touch hi"]


def test_headless_deny_mode_runs_only_the_allow_list(tmp_path: Path) -> None:
    """In deny mode an allow-listed command runs and any other is refused with advice."""
    runner = ShellRunner(
        Workspace(root=tmp_path), policy=ApprovalPolicy("deny", ("echo",)), ask=allow_all
    )
    assert "Exit code: 0" in run(runner, "echo ok")
    with pytest.raises(ToolError, match="--yes"):
        run(runner, "touch x")


@pytest.mark.parametrize(
    ("command", "patterns", "expected"),
    [
        ("pytest -q", ("pytest",), True),
        ("pytest", ("pytest",), True),
        ("pytestx", ("pytest",), False),
        ("git status", ("git *",), True),
        ("pytest && rm -rf /", ("pytest",), False),
        ("pytest && ruff check .", ("pytest", "ruff"), True),
        ("echo $(rm -rf /)", ("echo",), False),
        ("npm test | tee log", ("npm test", "tee"), True),
        ("anything", (), False),
    ],
)
def test_allow_list_matching(command: str, patterns: tuple[str, ...], expected: bool) -> None:
    """Prefix and wildcard patterns; every part of a compound command must match."""
    assert allowed_by_list(command, patterns) is expected


@pytest.mark.parametrize(
    ("answer", "decision"),
    [
        (True, Decision.ALLOW),
        (False, Decision.DENY),
        ("allow_session", Decision.ALLOW_SESSION),
        (None, Decision.DENY),
        ("bogus", Decision.DENY),
    ],
)
def test_approval_of_reads_front_end_answers(answer: object, decision: Decision) -> None:
    """Whatever a front end resolves the future with becomes a decision."""
    assert Approval.of(answer).decision is decision


# -- through a session --------------------------------------------------------------------------


def shell_session(
    steps: list[Step | str], tmp_path: Path, **config: object
) -> tuple[Session, list[Event]]:
    session = Session(
        ScriptedModel(steps),
        root=tmp_path,
        skills_dirs=[],
        config=SessionConfig(shell=True, **config),  # type: ignore[arg-type]
    )
    events: list[Event] = []
    session.subscribe(events.append)
    return session, events


def tool_ends(events: list[Event]) -> list[dict[str, object]]:
    return [e.data for e in events if e.kind is EventKind.TOOL_CALL_END]


def test_library_sessions_have_no_shell_by_default(tmp_path: Path) -> None:
    """The shell is opt-in."""
    assert "shell" not in Session(ScriptedModel([]), root=tmp_path, skills_dirs=[]).registry


def test_output_streams_as_deltas(tmp_path: Path) -> None:
    """Command output arrives as TOOL_CALL_OUTPUT_DELTA events while it runs."""
    session, events = shell_session(
        [call("shell", command="echo one; echo two"), "done"], tmp_path, shell_approval="allow"
    )
    session.send("go")
    deltas = "".join(
        str(e.data["delta"]) for e in events if e.kind is EventKind.TOOL_CALL_OUTPUT_DELTA
    )
    assert deltas == "one\ntwo\n"


def test_approval_request_carries_a_future_and_the_answer_is_used(tmp_path: Path) -> None:
    """APPROVAL_REQUESTED carries the command and a future; resolving it runs the command."""
    session, _events = shell_session([call("shell", command="echo yes > y.txt"), "done"], tmp_path)
    seen: list[str] = []

    def approve(event: Event) -> None:
        if event.kind is EventKind.APPROVAL_REQUESTED:
            seen.append(str(event.data["command"]))
            event.data["future"].set_result(True)

    session.subscribe(approve)
    session.send("go")
    assert (seen, session.files()) == (["echo yes > y.txt"], {"y.txt": "yes\n"})


def test_denial_through_the_session_is_an_error_result(tmp_path: Path) -> None:
    """A denied command becomes an error tool result with the reason, and the run goes on."""
    session, events = shell_session([call("shell", command="make"), "ok"], tmp_path)

    def deny(event: Event) -> None:
        if event.kind is EventKind.APPROVAL_REQUESTED:
            event.data["future"].set_result(Approval(Decision.DENY, "not now"))

    session.subscribe(deny)
    reply = session.send("go")
    end = tool_ends(events)[0]
    assert (reply.stop_reason, end["is_error"], "not now" in str(end["output"])) == (
        "completed",
        True,
        True,
    )


def test_cancel_while_waiting_for_approval_does_not_hang(tmp_path: Path) -> None:
    """Cancelling while a request is open gives the call a result and ends the run."""
    session, events = shell_session([call("shell", command="touch hi"), "never"], tmp_path)

    def cancel_instead(event: Event) -> None:
        if event.kind is EventKind.APPROVAL_REQUESTED:
            session.cancel()

    session.subscribe(cancel_instead)
    reply = session.send("go")
    assert (reply.stop_reason, tool_ends(events)[0]["is_error"]) == ("cancelled", True)


def test_approval_event_serialises_without_the_future(tmp_path: Path) -> None:
    """The JSON form of APPROVAL_REQUESTED leaves the future out."""
    session, events = shell_session(
        [call("shell", command="touch x"), "done"], tmp_path, shell_approval="ask"
    )
    session.subscribe(
        lambda e: e.kind is EventKind.APPROVAL_REQUESTED and e.data["future"].set_result(True)
    )
    session.send("go")
    request = next(e for e in events if e.kind is EventKind.APPROVAL_REQUESTED)
    assert "future" not in request.to_json()


def test_subagent_asks_through_its_parent(tmp_path: Path) -> None:
    """A child's command is approved by whoever listens to the parent."""
    model = ScriptedModel(
        [
            Step(
                tool_calls=[
                    ("spawn_agent", {"task": "make c.txt"}),
                    ("wait", {"agent_id": "agent_1"}),
                ]
            ),
            call("shell", command="echo child > c.txt"),
            "child done",
            "parent done",
        ]
    )
    session = Session(model, root=tmp_path, skills_dirs=[], config=SessionConfig(shell=True))
    asked: list[object] = []

    def approve(event: Event) -> None:
        if event.kind is EventKind.APPROVAL_REQUESTED:
            asked.append(event.data.get("agent_id"))
            event.data["future"].set_result(True)

    session.subscribe(approve)
    session.send("go")
    assert (asked, session.files()) == ([f"{session.id}.agent_1"], {"c.txt": "child\n"})


def test_anthropic_profile_defaults_to_two_minutes(tmp_path: Path) -> None:
    """The Anthropic profile's shell timeout is 120 s, others 10 s."""
    claude = Session(
        ScriptedModel([], model="anthropic/claude-sonnet-4-5"),
        root=tmp_path,
        skills_dirs=[],
        config=SessionConfig(shell=True),
    )
    gpt = Session(
        ScriptedModel([], model="openai/gpt-5"),
        root=tmp_path,
        skills_dirs=[],
        config=SessionConfig(shell=True),
    )
    assert (claude.shell.settings.default_timeout_ms, gpt.shell.settings.default_timeout_ms) == (
        120_000,
        10_000,
    )


def test_absolute_path_to_the_root_reaches_the_sandbox_copy(tmp_path: Path) -> None:
    """The root's absolute path names the sandbox copy: a delete there is a workspace change."""
    real = tmp_path / "real"
    real.mkdir()
    (real / "keep.txt").write_text("keep\n")
    workspace = Workspace(root=real)
    run(runner_for(workspace), f"rm -f {real}/keep.txt")
    assert ((real / "keep.txt").read_text(), workspace.changes()) == (
        "keep\n",
        [("keep.txt", "deleted")],
    )


def test_long_output_is_truncated_for_the_model_only(tmp_path: Path) -> None:
    """1,000 lines reach the host in full; the model gets 256 lines with a marker."""
    model = ScriptedModel([call("shell", command="seq 1000"), "done"])
    session = Session(
        model,
        root=tmp_path,
        skills_dirs=[],
        config=SessionConfig(shell=True, shell_approval="allow"),
    )
    events: list[Event] = []
    session.subscribe(events.append)
    session.send("count")
    full = str(tool_ends(events)[0]["output"])
    sent = str(model.requests[1].messages[-1]["content"])
    assert ("\n1000" in full, "lines omitted" in sent, "\n1000" in sent, "\n500\n" in sent) == (
        True,
        True,
        True,
        False,
    )


def test_approval_request_names_its_call(tmp_path: Path) -> None:
    """APPROVAL_REQUESTED carries the model's call id, so a front end can mark that call."""
    session, events = shell_session([call("shell", command="touch x"), "done"], tmp_path)
    session.subscribe(
        lambda e: e.kind is EventKind.APPROVAL_REQUESTED and e.data["future"].set_result(True)
    )
    session.send("go")
    request = next(e for e in events if e.kind is EventKind.APPROVAL_REQUESTED)
    start = next(e for e in events if e.kind is EventKind.TOOL_CALL_START)
    assert request.data["call_id"] == start.data["call_id"]
