"""`tiller acp` driven from the ACP SDK's client side, in-process over a socket pair."""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import acp
from acp.client.connection import ClientSideConnection
from acp.schema import (
    ClientCapabilities,
    EnvVariable,
    FileSystemCapabilities,
    HttpHeader,
    HttpMcpServer,
    McpServerStdio,
    TextContentBlock,
)

from acp_harness import RecordingClient, connected
from tiller import Session, SessionConfig
from tiller.acp_agent import McpEntries, TillerAgent, mcp_entries
from tiller.acp_updates import coalesce, tool_title
from tiller.journal import restore_session
from tiller.testing.scripted import ScriptedModel, Step, call

FS = ClientCapabilities(fs=FileSystemCapabilities(read_text_file=True, write_text_file=True))


def agent_for(
    model: ScriptedModel, *, shell: bool = False, profile: str | None = None
) -> TillerAgent:
    """An agent whose sessions answer from `model`."""

    def new(root: Path, mcp: McpEntries) -> Session:
        config = SessionConfig(shell=shell)
        return Session(
            model, root=root, skills_dirs=[], config=config, max_turns=5, profile=profile
        )

    def load(session_id: str, root: Path, mcp: McpEntries) -> Session:
        return restore_session(session_id, model=model, skills_dirs=[])

    return TillerAgent(new, load)


def run(
    agent: TillerAgent,
    client: RecordingClient,
    body: Callable[[ClientSideConnection], Coroutine[Any, Any, Any]],
    capabilities: ClientCapabilities | None = None,
) -> Any:
    """Connect, initialize, run `body(conn)` and close everything."""

    async def main() -> Any:
        async with connected(agent, client) as conn:
            await conn.initialize(
                protocol_version=acp.PROTOCOL_VERSION, client_capabilities=capabilities
            )
            return await asyncio.wait_for(body(conn), timeout=30)

    return asyncio.run(main())


def ask(text: str) -> list[TextContentBlock]:
    return [acp.text_block(text)]


def replayed(model: ScriptedModel, root: Path, text: str) -> RecordingClient:
    """Prompt `text` in a new session on `root`, then load that session in a second
    connection: the client that saw the replay."""

    async def first(conn: ClientSideConnection) -> str:
        session = await conn.new_session(cwd=str(root))
        await conn.prompt(session_id=session.session_id, prompt=ask(text))
        return session.session_id

    session_id = run(agent_for(model), RecordingClient(), first)
    client = RecordingClient()

    async def second(conn: ClientSideConnection) -> None:
        await conn.load_session(cwd=str(root), session_id=session_id)

    run(agent_for(model), client, second)
    return client


def test_initialize_advertises_load_and_embedded_context(tmp_path: Path) -> None:
    """initialize says sessions can be loaded and prompts may embed files."""
    agent = agent_for(ScriptedModel())

    async def body(conn: ClientSideConnection) -> Any:
        return await conn.initialize(protocol_version=acp.PROTOCOL_VERSION)

    reply = run(agent, RecordingClient(), body)
    caps = reply.agent_capabilities
    assert (caps.load_session, caps.prompt_capabilities.embedded_context) == (True, True)


def test_prompt_streams_the_answer_as_message_chunks(tmp_path: Path) -> None:
    """A prompt's answer arrives as agent message chunks and the turn ends normally."""
    client = RecordingClient()
    agent = agent_for(ScriptedModel([Step(chunks=["Hel", "lo!"])]))

    async def body(conn: ClientSideConnection) -> Any:
        session = await conn.new_session(cwd=str(tmp_path))
        return await conn.prompt(session_id=session.session_id, prompt=ask("hi"))

    reply = run(agent, client, body)
    assert (reply.stop_reason, client.text()) == ("end_turn", "Hello!")


def test_reasoning_arrives_as_thought_chunks(tmp_path: Path) -> None:
    """Reasoning deltas become agent thought chunks, apart from the answer."""
    client = RecordingClient()
    agent = agent_for(ScriptedModel([Step(text="42", reasoning="Let me think.")]))

    async def body(conn: ClientSideConnection) -> Any:
        session = await conn.new_session(cwd=str(tmp_path))
        await conn.prompt(session_id=session.session_id, prompt=ask("?"))

    run(agent, client, body)
    assert (client.text("agent_thought_chunk"), client.text()) == ("Let me think.", "42")


def test_available_commands_are_advertised(tmp_path: Path) -> None:
    """A new session advertises flush, export, undo and diff."""
    client = RecordingClient()
    agent = agent_for(ScriptedModel(["ok"]))

    async def body(conn: ClientSideConnection) -> Any:
        session = await conn.new_session(cwd=str(tmp_path))
        # The advertisement follows the response; a prompt's round trip lets it land.
        await conn.prompt(session_id=session.session_id, prompt=ask("hi"))

    run(agent, client, body)
    names = {c.name for c in client.of("available_commands_update")[0].available_commands}
    assert {"flush", "export", "undo", "diff"} <= names


def test_edit_is_shown_as_a_diff_and_not_written(tmp_path: Path) -> None:
    """An edit reaches the editor as diff content (old and new text); the disk keeps the old."""
    (tmp_path / "a.txt").write_text("one\ntwo\n")
    client = RecordingClient()
    edit = call("edit_file", file_path="a.txt", old_string="two", new_string="three")
    agent = agent_for(ScriptedModel([edit, "Done."]))

    async def body(conn: ClientSideConnection) -> Any:
        session = await conn.new_session(cwd=str(tmp_path))
        await conn.prompt(session_id=session.session_id, prompt=ask("edit"))

    run(agent, client, body)
    start = client.of("tool_call")[0]
    diff = client.of("tool_call_update")[-1].content[0]
    seen = (start.kind, diff.type, diff.path, diff.old_text, diff.new_text)
    assert seen == ("edit", "diff", str(tmp_path / "a.txt"), "one\ntwo\n", "one\nthree\n")
    assert (tmp_path / "a.txt").read_text() == "one\ntwo\n"


def test_new_file_diff_has_empty_old_text(tmp_path: Path) -> None:
    """A file the agent creates is a diff from "" (an absent oldText hides it in toad)."""
    client = RecordingClient()
    agent = agent_for(ScriptedModel([call("write_file", file_path="n.txt", content="x\n"), "ok"]))

    async def body(conn: ClientSideConnection) -> Any:
        session = await conn.new_session(cwd=str(tmp_path))
        await conn.prompt(session_id=session.session_id, prompt=ask("write"))

    run(agent, client, body)
    diff = client.of("tool_call_update")[-1].content[0]
    assert (diff.old_text, diff.new_text) == ("", "x\n")


def shell_step(command: str) -> Step:
    return call("shell", command=command)


async def allow_all(_: Any) -> str:
    return "allow"


def test_shell_approval_asks_the_client_and_runs_when_allowed(tmp_path: Path) -> None:
    """A shell command needing approval becomes a permission request; allowed, it runs."""

    async def allow(_: Any) -> str:
        return "allow"

    client = RecordingClient(allow)
    agent = agent_for(
        ScriptedModel([shell_step("echo hi > out.txt; cat out.txt"), "ok"]), shell=True
    )

    async def body(conn: ClientSideConnection) -> Any:
        session = await conn.new_session(cwd=str(tmp_path))
        await conn.prompt(session_id=session.session_id, prompt=ask("run"))

    run(agent, client, body)
    final = client.of("tool_call_update")[-1]
    assert (len(client.permissions), client.permissions[0].kind, final.status) == (
        1,
        "execute",
        "completed",
    )
    assert final.content[0].content.text == "```console\nhi\n```"


def test_shell_raw_output_is_an_object(tmp_path: Path) -> None:
    """A command's raw output is a JSON object (toad drops updates whose rawOutput is not)."""
    client = RecordingClient(allow_all)
    agent = agent_for(ScriptedModel([shell_step("echo hi"), "ok"]), shell=True)

    async def body(conn: ClientSideConnection) -> Any:
        session = await conn.new_session(cwd=str(tmp_path))
        await conn.prompt(session_id=session.session_id, prompt=ask("run"))

    run(agent, client, body)
    raw = client.of("tool_call_update")[-1].raw_output
    assert (type(raw), "hi" in raw["output"]) == (dict, True)


def test_allowed_command_is_marked_running_before_its_output(tmp_path: Path) -> None:
    """Once allowed, the call the permission request marked pending is in progress again."""
    client = RecordingClient(allow_all)
    agent = agent_for(ScriptedModel([shell_step("echo hi > o.txt; cat o.txt"), "ok"]), shell=True)

    async def body(conn: ClientSideConnection) -> Any:
        session = await conn.new_session(cwd=str(tmp_path))
        await conn.prompt(session_id=session.session_id, prompt=ask("run"))

    run(agent, client, body)
    statuses = [(u.status, bool(u.content)) for u in client.of("tool_call_update")]
    assert (statuses[0], statuses[-1][0]) == (("in_progress", False), "completed")


def test_denied_command_is_never_marked_running(tmp_path: Path) -> None:
    """A denied call goes from pending straight to failed."""
    client = RecordingClient()  # answers deny
    agent = agent_for(ScriptedModel([shell_step("touch made.txt"), "ok"]), shell=True)

    async def body(conn: ClientSideConnection) -> Any:
        session = await conn.new_session(cwd=str(tmp_path))
        await conn.prompt(session_id=session.session_id, prompt=ask("run"))

    run(agent, client, body)
    assert [u.status for u in client.of("tool_call_update")] == ["failed"]


def test_mcp_server_warnings_reach_the_editor(tmp_path: Path) -> None:
    """An MCP server that cannot start is said in the conversation, not only in a log."""
    from tiller.mcp.config import server_config

    broken = server_config(
        "broken", {"command": str(tmp_path / "no-such-server")}, "test", trusted=True
    )
    client = RecordingClient()

    def new(root: Path, mcp: McpEntries) -> Session:
        config = SessionConfig(mcp_servers=(broken,))
        return Session(ScriptedModel(["ok"]), root=root, skills_dirs=[], config=config)

    async def body(conn: ClientSideConnection) -> Any:
        session = await conn.new_session(cwd=str(tmp_path))
        await conn.prompt(session_id=session.session_id, prompt=ask("hi"))

    run(TillerAgent(new), client, body)
    assert ("Warning:" in client.text(), "broken" in client.text()) == (True, True)


def test_denied_command_reason_is_plain_text(tmp_path: Path) -> None:
    """A denial is said as text, not as if the command had printed it in a terminal."""
    client = RecordingClient()  # answers deny
    agent = agent_for(ScriptedModel([shell_step("touch made.txt"), "ok"]), shell=True)

    async def body(conn: ClientSideConnection) -> Any:
        session = await conn.new_session(cwd=str(tmp_path))
        await conn.prompt(session_id=session.session_id, prompt=ask("run"))

    run(agent, client, body)
    text = client.of("tool_call_update")[-1].content[0].content.text
    assert (text.startswith("```"), "denied" in text) == (False, True)


def test_denied_shell_command_fails_without_running(tmp_path: Path) -> None:
    """Denied in the editor, the command does not run and its tool call fails."""
    client = RecordingClient()  # answers deny
    agent = agent_for(ScriptedModel([shell_step("touch made.txt"), "ok"]), shell=True)

    async def body(conn: ClientSideConnection) -> Any:
        session = await conn.new_session(cwd=str(tmp_path))
        await conn.prompt(session_id=session.session_id, prompt=ask("run"))
        return agent.sessions[session.session_id].session.workspace.exists("made.txt")

    made = run(agent, client, body)
    assert (client.of("tool_call_update")[-1].status, made) == ("failed", False)


def test_cancel_during_a_permission_request_ends_the_turn_cancelled(tmp_path: Path) -> None:
    """session/cancel while the editor asks stops the turn with stop reason cancelled."""
    holder: dict[str, Any] = {}

    async def cancel_then_answer(_: Any) -> None:
        await holder["conn"].cancel(session_id=holder["id"])
        return None

    client = RecordingClient(cancel_then_answer)
    agent = agent_for(ScriptedModel([shell_step("touch x"), "never"]), shell=True)

    async def body(conn: ClientSideConnection) -> Any:
        session = await conn.new_session(cwd=str(tmp_path))
        holder.update(conn=conn, id=session.session_id)
        return await conn.prompt(session_id=session.session_id, prompt=ask("run"))

    assert run(agent, client, body).stop_reason == "cancelled"


def test_cancel_while_the_model_streams(tmp_path: Path) -> None:
    """session/cancel while the model is answering ends the turn cancelled."""
    gate = threading.Event()
    step = Step(text="slow", gate=gate)
    client = RecordingClient()
    agent = agent_for(ScriptedModel([step]))

    async def body(conn: ClientSideConnection) -> Any:
        session = await conn.new_session(cwd=str(tmp_path))
        turn = asyncio.create_task(conn.prompt(session_id=session.session_id, prompt=ask("go")))
        await asyncio.to_thread(step.reached.wait, 10)
        await conn.cancel(session_id=session.session_id)
        reply = await turn
        gate.set()
        return reply

    assert run(agent, client, body).stop_reason == "cancelled"


def run_commands(
    tmp_path: Path,
    client: RecordingClient,
    commands: list[str],
    capabilities: ClientCapabilities | None = None,
    before: Callable[[], None] | None = None,
) -> list[str]:
    """Edit a.txt (old -> new) in one prompt, then send `commands`; each command's reply."""
    (tmp_path / "a.txt").write_text("old\n")
    edit = call("edit_file", file_path="a.txt", old_string="old", new_string="new")
    agent = agent_for(ScriptedModel([edit, "Done."]))

    async def body(conn: ClientSideConnection) -> list[str]:
        session = await conn.new_session(cwd=str(tmp_path))
        await conn.prompt(session_id=session.session_id, prompt=ask("edit"))
        if before is not None:
            before()
        replies = []
        for command in commands:
            client.updates.clear()
            await conn.prompt(session_id=session.session_id, prompt=ask(command))
            replies.append(client.text())
        return replies

    return run(agent, client, body, capabilities)


def test_flush_writes_through_the_client_when_it_can(tmp_path: Path) -> None:
    """With fs/write_text_file offered, /flush writes the file through the editor."""
    client = RecordingClient()
    run_commands(tmp_path, client, ["/flush"], FS)
    assert client.writes == [(str(tmp_path / "a.txt"), "new\n")]


def test_flush_through_the_client_leaves_nothing_unflushed(tmp_path: Path) -> None:
    """After a flush through the editor the workspace has no changes left."""
    replies = run_commands(tmp_path, RecordingClient(), ["/flush", "/diff"], FS)
    assert replies[1] == "No unflushed changes."


def test_flush_writes_to_disk_without_client_fs(tmp_path: Path) -> None:
    """Without the client's fs capability, /flush writes to disk itself."""
    client = RecordingClient()
    run_commands(tmp_path, client, ["/flush"])
    assert ((tmp_path / "a.txt").read_text(), client.writes) == ("new\n", [])


def test_flush_refuses_a_file_changed_on_disk(tmp_path: Path) -> None:
    """A file changed on disk since it was read is not overwritten, through the editor or not."""
    client = RecordingClient()

    def change_disk() -> None:
        (tmp_path / "a.txt").write_text("theirs\n")

    replies = run_commands(tmp_path, client, ["/flush"], FS, before=change_disk)
    assert (client.writes, (tmp_path / "a.txt").read_text()) == ([], "theirs\n")
    assert replies[0].startswith("Nothing written")


def test_diff_command_shows_the_patch(tmp_path: Path) -> None:
    """/diff answers with the workspace patch."""
    replies = run_commands(tmp_path, RecordingClient(), ["/diff"])
    assert "-old\n+new\n" in replies[0]


def test_undo_command_reverts_the_edit(tmp_path: Path) -> None:
    """/undo takes the last turn's edit back; /diff then shows nothing."""
    replies = run_commands(tmp_path, RecordingClient(), ["/undo", "/diff"])
    assert replies == ["Undid the last turn's edits.", "No unflushed changes."]


def test_export_never_replaces_a_file_that_is_not_a_patch(tmp_path: Path) -> None:
    """`/export notes.md` over the person's notes leaves them as they were."""

    def write_notes() -> None:
        (tmp_path / "notes.md").write_text("my notes\n")

    run_commands(tmp_path, RecordingClient(), ["/export notes.md"], before=write_notes)
    assert (tmp_path / "notes.md").read_text() == "my notes\n"


def test_export_writes_a_patch_outside_the_tree(tmp_path: Path) -> None:
    """/export with no path writes the patch into Tiller's data dir, not the project."""
    replies = run_commands(tmp_path, RecordingClient(), ["/export"])
    target = Path(replies[0].removeprefix("Exported the changes to ").rstrip("."))
    assert ("-old\n+new\n" in target.read_text(), tmp_path in target.parents) == (True, False)


def test_load_replays_the_conversation(tmp_path: Path) -> None:
    """session/load reopens a journaled session and replays its messages."""
    model = ScriptedModel(["First answer."])

    client = replayed(model, tmp_path, "first question")
    assert (client.text("user_message_chunk"), client.text()) == ("first question", "First answer.")


def test_load_replays_tool_calls_with_their_titles(tmp_path: Path) -> None:
    """A replayed tool call has the title and kind it had live, not the bare tool name."""
    (tmp_path / "a.txt").write_text("one\n")
    edit = call("edit_file", file_path="a.txt", old_string="one", new_string="two")
    model = ScriptedModel([edit, "Done."])

    client = replayed(model, tmp_path, "edit")
    assert [(c.title, c.kind) for c in client.of("tool_call")] == [("Edit a.txt", "edit")]


def test_embedded_file_reaches_the_model(tmp_path: Path) -> None:
    """An embedded resource in the prompt is given to the model with its path."""
    model = ScriptedModel(["ok"])
    agent = agent_for(model)
    resource = acp.resource_block(
        acp.embedded_text_resource(f"file://{tmp_path}/b.py", "print(1)\n")
    )

    async def body(conn: ClientSideConnection) -> str:
        session = await conn.new_session(cwd=str(tmp_path))
        await conn.prompt(session_id=session.session_id, prompt=[acp.text_block("see"), resource])
        return agent.sessions[session.session_id].session.history[0].text

    assert run(agent, RecordingClient(), body) == 'see\n<file path="b.py">\nprint(1)\n</file>'


def test_mcp_servers_from_the_client_are_recorded(tmp_path: Path) -> None:
    """MCP servers passed with session/new are kept with the session."""
    agent = agent_for(ScriptedModel())
    server = McpServerStdio(name="docs", command="docs-mcp", args=["--stdio"], env=[])

    async def body(conn: ClientSideConnection) -> list[str]:
        session = await conn.new_session(cwd=str(tmp_path), mcp_servers=[server])
        return [s.name for s in agent.sessions[session.session_id].mcp_servers]

    assert run(agent, RecordingClient(), body) == ["docs"]


def test_prompt_while_busy_is_refused_in_the_conversation(tmp_path: Path) -> None:
    """A second prompt during a run is answered with an error message, not a crash."""
    gate = threading.Event()
    step = Step(text="slow", gate=gate)
    client = RecordingClient()
    agent = agent_for(ScriptedModel([step]))

    async def body(conn: ClientSideConnection) -> Any:
        session = await conn.new_session(cwd=str(tmp_path))
        first = asyncio.create_task(conn.prompt(session_id=session.session_id, prompt=ask("a")))
        await asyncio.to_thread(step.reached.wait, 10)
        second = await conn.prompt(session_id=session.session_id, prompt=ask("b"))
        gate.set()
        await first
        return second.stop_reason

    assert (run(agent, client, body), "Error:" in client.text()) == ("end_turn", True)


def test_unknown_session_is_an_invalid_params_error(tmp_path: Path) -> None:
    """A prompt for a session the agent never made is a JSON-RPC error."""
    agent = agent_for(ScriptedModel())

    async def body(conn: ClientSideConnection) -> int:
        try:
            await conn.prompt(session_id="nope", prompt=ask("hi"))
        except acp.RequestError as exc:
            return exc.code
        return 0

    assert run(agent, RecordingClient(), body) == -32602


def test_permission_request_names_an_announced_tool_call(tmp_path: Path) -> None:
    """The editor is asked about a tool call it was already shown, by the same id."""
    client = RecordingClient()
    agent = agent_for(ScriptedModel([shell_step("touch x"), "ok"]), shell=True)

    async def body(conn: ClientSideConnection) -> None:
        session = await conn.new_session(cwd=str(tmp_path))
        await conn.prompt(session_id=session.session_id, prompt=ask("run"))

    run(agent, client, body)
    announced = [u.tool_call_id for u in client.of("tool_call")]
    assert [p.tool_call_id for p in client.permissions] == announced


def test_failed_edit_shows_no_diff(tmp_path: Path) -> None:
    """An edit that fails is a failed tool call with the error, not a diff."""
    (tmp_path / "a.txt").write_text("one\n")
    client = RecordingClient()
    edit = call("edit_file", file_path="a.txt", old_string="absent", new_string="x")
    agent = agent_for(ScriptedModel([edit, "ok"]))

    async def body(conn: ClientSideConnection) -> None:
        session = await conn.new_session(cwd=str(tmp_path))
        await conn.prompt(session_id=session.session_id, prompt=ask("edit"))

    run(agent, client, body)
    final = client.of("tool_call_update")[-1]
    assert (final.status, final.content[0].type) == ("failed", "content")


def test_apply_patch_shows_a_diff_for_every_file(tmp_path: Path) -> None:
    """A patch touching two files gives two diffs, each with its own old text."""
    (tmp_path / "a.txt").write_text("a\n")
    (tmp_path / "b.txt").write_text("b\n")
    patch = (
        "*** Begin Patch\n*** Update File: a.txt\n@@\n-a\n+A\n"
        "*** Update File: b.txt\n@@\n-b\n+B\n*** End Patch"
    )
    client = RecordingClient()
    agent = agent_for(ScriptedModel([call("apply_patch", patch=patch), "ok"]), profile="openai")

    async def body(conn: ClientSideConnection) -> None:
        session = await conn.new_session(cwd=str(tmp_path))
        await conn.prompt(session_id=session.session_id, prompt=ask("patch"))

    run(agent, client, body)
    diffs = client.of("tool_call_update")[-1].content
    seen = [(Path(d.path).name, d.old_text, d.new_text) for d in diffs]
    assert seen == [("a.txt", "a\n", "A\n"), ("b.txt", "b\n", "B\n")]


def test_loading_an_unknown_session_is_an_error(tmp_path: Path) -> None:
    """session/load of an id with no journal is an invalid-params error."""
    agent = agent_for(ScriptedModel())

    async def body(conn: ClientSideConnection) -> int:
        try:
            await conn.load_session(cwd=str(tmp_path), session_id="feedfacecafe")
        except acp.RequestError as exc:
            return exc.code
        return 0

    assert run(agent, RecordingClient(), body) == -32602


def test_client_mcp_servers_become_config_entries() -> None:
    """The client's stdio and HTTP MCP servers map onto `[mcp_servers.NAME]` entries."""
    stdio = McpServerStdio(
        name="docs", command="docs-mcp", args=["--stdio"], env=[EnvVariable(name="K", value="v")]
    )
    http = HttpMcpServer(
        name="web",
        type="http",
        url="http://127.0.0.1:9/mcp",
        headers=[HttpHeader(name="X-A", value="1")],
    )
    assert mcp_entries([stdio, http]) == {
        "docs": {"command": "docs-mcp", "args": ["--stdio"], "env": {"K": "v"}},
        "web": {"url": "http://127.0.0.1:9/mcp", "headers": {"X-A": "1"}, "type": "http"},
    }


def test_a_shell_title_shows_control_characters_as_escapes() -> None:
    """The title an editor's permission prompt shows cannot carry an escape sequence."""
    title = tool_title("shell", {"command": "rm -rf x\x1b[2K\rls"})
    assert title == "Run `rm -rf x\\x1b[2K\\x0dls`"


def test_mcp_tool_calls_get_a_readable_title() -> None:
    """An MCP tool call is titled by its tool and server, not the mangled name."""
    assert tool_title("mcp__docs__search", {}) == "search (MCP docs)"


class RefusingClient(RecordingClient):
    """An editor that cannot write the file (read-only buffer, say)."""

    async def write_text_file(self, session_id: str, path: str, content: str, **_: Any) -> Any:
        raise acp.RequestError.internal_error({"details": "read-only"})


def test_flush_the_editor_refuses_leaves_the_change_unflushed(tmp_path: Path) -> None:
    """When the editor cannot write a file, /flush says so and the change stays in the overlay."""
    replies = run_commands(tmp_path, RefusingClient(), ["/flush", "/diff"], FS)
    stopped = "Stopped at a.txt" in replies[0]
    assert (stopped, "+new" in replies[1], (tmp_path / "a.txt").read_text()) == (
        True,
        True,
        "old\n",
    )


class SavingClient(RecordingClient):
    """An editor that writes a.txt while the person saves b.txt in another window."""

    def __init__(self, other: Path) -> None:
        super().__init__()
        self.other = other

    async def write_text_file(self, session_id: str, path: str, content: str, **_: Any) -> Any:
        self.other.write_text("mine\n")
        return await super().write_text_file(session_id, path, content)


def test_flush_through_the_editor_keeps_a_file_saved_meanwhile(tmp_path: Path) -> None:
    """A file to delete that the person saves while the editor writes the others is kept."""
    (tmp_path / "a.txt").write_text("old\n")
    (tmp_path / "b.txt").write_text("b\n")
    edit = call("edit_file", file_path="a.txt", old_string="old", new_string="new")
    agent = agent_for(ScriptedModel([edit, "Done."]))

    async def body(conn: ClientSideConnection) -> None:
        session = await conn.new_session(cwd=str(tmp_path))
        await conn.prompt(session_id=session.session_id, prompt=ask("edit"))
        agent.sessions[session.session_id].session.workspace.delete("b.txt")
        await conn.prompt(session_id=session.session_id, prompt=ask("/flush"))

    run(agent, SavingClient(tmp_path / "b.txt"), body, FS)
    assert (tmp_path / "b.txt").read_text() == "mine\n"


def test_output_updates_are_coalesced_within_a_batch() -> None:
    """Of several output-only updates for one call in a batch, only the newest is sent."""
    first = acp.update_tool_call("c1", content=[])
    second = acp.update_tool_call("c1", content=[])
    other = acp.update_tool_call("c2", content=[])
    done = acp.update_tool_call("c1", status="completed")
    assert coalesce([first, other, second, done]) == [other, second, done]


def test_client_mcp_servers_serve_the_session(tmp_path: Path) -> None:
    """An MCP server the editor passes at session/new is started and its tools offered."""
    from tiller.cli_acp import session_builders

    fixture = str(Path(__file__).parent / "fixtures" / "mcp_server.py")
    server = McpServerStdio(name="fx", command=sys.executable, args=[fixture], env=[])
    new, _ = session_builders({"model": "openai/fake", "api_base": "http://127.0.0.1:9/v1"})
    session = new(tmp_path, mcp_entries([server]))
    try:
        assert session.mcp is not None
        session.mcp.wait_ready()
        names = [tool.name for tool in session.mcp.tools()]
    finally:
        session.close()
    assert "mcp__fx__echo" in names
