"""`tiller acp` against what an editor (or the disk under it) may do wrong: nothing is
written outside the root, and every mistake is a clear answer, never a protocol error."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import threading
from pathlib import Path
from typing import Any

import acp
import pytest
from acp.client.connection import ClientSideConnection
from acp.schema import McpServerStdio

from acp_harness import RecordingClient
from test_acp import FS, agent_for, ask, replayed, run, shell_step
from tiller.acp_agent import TillerAgent
from tiller.testing.scripted import ScriptedModel, Step, call

BUSY = "Error: Tiller is still working on the previous prompt; cancel it first."


def flush_after_link_swap(tmp_path: Path, command: str) -> tuple[RecordingClient, str, Path]:
    """Write sub/new.txt, then make `sub` a symlink to a directory outside, then `command`."""
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "sub").mkdir(parents=True)
    outside.mkdir()
    write = call("write_file", file_path="sub/new.txt", content="payload\n")
    agent = agent_for(ScriptedModel([write, "Done."]))
    client = RecordingClient()

    async def body(conn: ClientSideConnection) -> str:
        session = await conn.new_session(cwd=str(root))
        await conn.prompt(session_id=session.session_id, prompt=ask("write"))
        shutil.rmtree(root / "sub")
        (root / "sub").symlink_to(outside, target_is_directory=True)
        client.updates.clear()
        await conn.prompt(session_id=session.session_id, prompt=ask(command))
        return client.text()

    reply = run(agent, client, body, FS)
    return client, reply, outside


def test_forced_flush_never_writes_through_a_link_out_of_the_root(tmp_path: Path) -> None:
    """`/flush force` after a directory became a link outside asks the editor for nothing."""
    client, reply, outside = flush_after_link_swap(tmp_path, "/flush force")
    assert (client.writes, list(outside.iterdir()), "outside the workspace root" in reply) == (
        [],
        [],
        True,
    )


def test_flush_over_a_link_out_of_the_root_is_an_answer(tmp_path: Path) -> None:
    """`/flush` after a directory became a link outside says why, not a JSON-RPC error."""
    _, reply, outside = flush_after_link_swap(tmp_path, "/flush")
    assert (reply.startswith("Nothing written"), list(outside.iterdir())) == (True, [])


def test_editor_server_name_with_a_space_still_opens_the_session(tmp_path: Path) -> None:
    """An editor's MCP server called "my docs" serves as mcp__my_docs__*; session/new works."""
    from tiller.cli_acp import session_builders

    fixture = str(Path(__file__).parent / "fixtures" / "mcp_server.py")
    server = McpServerStdio(name="my docs", command=sys.executable, args=[fixture], env=[])
    new, load = session_builders({"model": "openai/fake", "api_base": "http://127.0.0.1:9/v1"})
    agent = TillerAgent(new, load)

    async def body(conn: ClientSideConnection) -> list[str]:
        session = await conn.new_session(cwd=str(tmp_path), mcp_servers=[server])
        servers = agent.sessions[session.session_id].session.mcp
        assert servers is not None
        await asyncio.to_thread(servers.wait_ready)
        return [tool.name for tool in servers.tools()]

    assert "mcp__my_docs__echo" in run(agent, RecordingClient(), body)


def test_editor_server_tiller_cannot_use_is_a_warning(tmp_path: Path) -> None:
    """An editor's stdio server with an empty command opens the session and warns once."""
    from tiller.cli_acp import session_builders

    server = McpServerStdio(name="empty", command=" ", args=[], env=[])
    new, load = session_builders({"model": "openai/fake", "api_base": "http://127.0.0.1:9/v1"})
    agent = TillerAgent(new, load)

    async def body(conn: ClientSideConnection) -> list[str]:
        session = await conn.new_session(cwd=str(tmp_path), mcp_servers=[server])
        servers = agent.sessions[session.session_id].session.mcp
        assert servers is not None
        return servers.warnings

    assert run(agent, RecordingClient(), body) == [
        "MCP server 'empty' not started: the editor (ACP client): mcp_servers.empty: "
        "a stdio server needs a command"
    ]


def journaled_session(root: Path) -> str:
    """The id of a journaled session over `root`, with one prompt in it."""
    from tiller import Session
    from tiller.journal import Journal

    root.mkdir(parents=True, exist_ok=True)
    session = Session(ScriptedModel(["hi"]), root=root, skills_dirs=[])
    Journal.attach(session)
    session.send("hello")
    session.close()
    return session.id


def load_error(cwd: Path, session_id: str) -> str:
    """What session/load of `session_id` with `cwd` answers: "" when it loads, else the error."""
    from tiller.cli_acp import session_builders

    new, load = session_builders({"model": "openai/fake", "api_base": "http://127.0.0.1:9/v1"})

    async def body(conn: ClientSideConnection) -> str:
        try:
            await conn.load_session(cwd=str(cwd), session_id=session_id)
        except acp.RequestError as exc:
            return str((exc.data or {}).get("error", exc))
        return ""

    return run(TillerAgent(new, load), RecordingClient(), body)


def test_loading_another_projects_session_is_refused(tmp_path: Path) -> None:
    """session/load with cwd A of a session over B is an error naming B; nothing opens."""
    other = journaled_session(tmp_path / "b")
    (tmp_path / "a").mkdir()
    error = load_error(tmp_path / "a", other)
    assert f"belongs to {tmp_path / 'b'}" in error


def test_loading_by_a_prefix_of_an_id_is_refused(tmp_path: Path) -> None:
    """An editor names sessions by their exact id: a prefix never picks one."""
    session_id = journaled_session(tmp_path)
    assert load_error(tmp_path, session_id[:4]).startswith("No session")


def test_loading_a_session_of_the_same_project_works(tmp_path: Path) -> None:
    """The exact id with its own root loads."""
    session_id = journaled_session(tmp_path)
    assert load_error(tmp_path, session_id) == ""


def test_two_prompts_at_once_run_the_first_and_refuse_the_second(tmp_path: Path) -> None:
    """Two session/prompt requests sent together: the first is answered, the second refused."""
    gate = threading.Event()
    agent = agent_for(ScriptedModel([Step(text="first answer", gate=gate), "second answer"]))
    client = RecordingClient()

    async def body(conn: ClientSideConnection) -> list[str]:
        session = await conn.new_session(cwd=str(tmp_path))
        first = asyncio.create_task(conn.prompt(session_id=session.session_id, prompt=ask("a")))
        second = asyncio.create_task(conn.prompt(session_id=session.session_id, prompt=ask("b")))
        await second
        refusal = client.text()
        gate.set()
        await first
        history = agent.sessions[session.session_id].session.history
        return [refusal, *(getattr(turn, "text", "") for turn in history)]

    assert run(agent, client, body) == [BUSY, "a", "first answer"]


def test_undo_while_a_prompt_runs_is_refused(tmp_path: Path) -> None:
    """/undo during a run leaves the run's edit in place and says why."""
    gate = threading.Event()
    write = call("write_file", file_path="a.txt", content="mine\n")
    step = Step(text="done", gate=gate)
    agent = agent_for(ScriptedModel([write, step]))
    client = RecordingClient()

    async def body(conn: ClientSideConnection) -> tuple[str, str]:
        session = await conn.new_session(cwd=str(tmp_path))
        running = asyncio.create_task(
            conn.prompt(session_id=session.session_id, prompt=ask("write"))
        )
        workspace = agent.sessions[session.session_id].session.workspace
        await asyncio.to_thread(step.reached.wait, 10)
        client.updates.clear()
        await conn.prompt(session_id=session.session_id, prompt=ask("/undo"))
        refusal = client.text()
        gate.set()
        await running
        return refusal, workspace.read("a.txt")

    refusal, content = run(agent, client, body)
    assert (refusal.startswith("Not while Tiller works"), content) == (True, "mine\n")


def flood(deltas: int, size: int) -> list[object]:
    """What a bridge has queued after a command printed `deltas` pieces of `size` characters
    to an editor that read nothing meanwhile."""
    from tiller import Workspace
    from tiller.acp_updates import UpdateBridge, pending_update
    from tiller.events import Event, EventKind

    loop = asyncio.new_event_loop()
    try:
        queue: asyncio.Queue[object] = asyncio.Queue()
        bridge = UpdateBridge(Workspace(files={}), loop, queue)
        bridge(Event(EventKind.TOOL_CALL_START, "s", {"name": "shell", "call_id": "c1"}))
        for _ in range(deltas):
            bridge(
                Event(EventKind.TOOL_CALL_OUTPUT_DELTA, "s", {"call_id": "c1", "delta": "x" * size})
            )
        loop.run_until_complete(asyncio.sleep(0))  # what the loop would have queued by now
        items = []
        while not queue.empty():
            items.append(pending_update(queue.get_nowait()))
        return items
    finally:
        loop.close()


def test_output_to_an_editor_that_does_not_read_is_not_buffered_per_piece() -> None:
    """10,000 pieces of command output wait as one update, not 10,000."""
    assert len(flood(10_000, 10)) == 2  # the tool call's start, then its newest output


class GarblingClient(RecordingClient):
    """An editor whose permission answer is not a valid response (no optionId)."""

    async def request_permission(
        self, session_id: str, tool_call: Any, options: Any, **_: Any
    ) -> Any:
        self.permissions.append(tool_call)
        return {"outcome": {"outcome": "selected"}}


def test_malformed_permission_answer_denies_and_the_turn_ends(tmp_path: Path) -> None:
    """A permission response that does not parse is a denial; the prompt still finishes."""
    agent = agent_for(ScriptedModel([shell_step("touch x"), "ok"]), shell=True)
    client = GarblingClient()

    async def body(conn: ClientSideConnection) -> str:
        session = await conn.new_session(cwd=str(tmp_path))
        reply = await conn.prompt(session_id=session.session_id, prompt=ask("run"))
        return reply.stop_reason

    assert (run(agent, client, body), (tmp_path / "x").exists()) == ("end_turn", False)


def new_session_error(cwd: str) -> tuple[int, str]:
    """The JSON-RPC error code and message session/new answers for `cwd`."""
    agent = agent_for(ScriptedModel([]))

    async def body(conn: ClientSideConnection) -> tuple[int, str]:
        try:
            await conn.new_session(cwd=cwd)
        except acp.RequestError as exc:
            return exc.code, str((exc.data or {}).get("error", exc))
        return 0, ""

    return run(agent, RecordingClient(), body)


def test_relative_cwd_is_invalid_params(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """ACP requires an absolute cwd: a relative one is refused, not taken from Tiller's own."""
    (tmp_path / "proj").mkdir()
    monkeypatch.chdir(tmp_path)
    assert new_session_error("proj") == (-32602, "cwd must be an absolute path, got 'proj'")


def test_broken_project_config_is_invalid_params(tmp_path: Path) -> None:
    """A project whose .tiller/config.toml does not parse is invalid params, not internal."""
    from tiller.cli_acp import session_builders

    (tmp_path / ".tiller").mkdir()
    (tmp_path / ".tiller" / "config.toml").write_text("model = [\n", encoding="utf-8")
    new, load = session_builders({"model": "openai/fake", "api_base": "http://127.0.0.1:9/v1"})
    agent = TillerAgent(new, load)

    async def body(conn: ClientSideConnection) -> int:
        try:
            await conn.new_session(cwd=str(tmp_path))
        except acp.RequestError as exc:
            return exc.code
        return 0

    assert run(agent, RecordingClient(), body) == -32602


def test_loading_a_session_while_its_prompt_runs_is_refused(tmp_path: Path) -> None:
    """session/load of the session whose prompt is running is refused; the prompt finishes."""
    gate = threading.Event()
    step = Step(text="answer", gate=gate)
    agent = agent_for(ScriptedModel([step]))

    async def body(conn: ClientSideConnection) -> tuple[int, str]:
        session = await conn.new_session(cwd=str(tmp_path))
        running = asyncio.create_task(conn.prompt(session_id=session.session_id, prompt=ask("a")))
        await asyncio.to_thread(step.reached.wait, 10)
        code = 0
        try:
            await conn.load_session(cwd=str(tmp_path), session_id=session.session_id)
        except acp.RequestError as exc:
            code = exc.code
        gate.set()
        reply = await running
        return code, reply.stop_reason

    assert run(agent, RecordingClient(), body) == (-32602, "end_turn")


def test_cancel_sent_right_after_the_prompt_is_not_lost(tmp_path: Path) -> None:
    """session/cancel arriving before the engine has started the prompt still cancels it."""
    gate = threading.Event()
    agent = agent_for(ScriptedModel([Step(text="never wanted", gate=gate)]))

    async def body(conn: ClientSideConnection) -> str:
        session = await conn.new_session(cwd=str(tmp_path))
        prompt = asyncio.create_task(conn.prompt(session_id=session.session_id, prompt=ask("a")))
        cancel = asyncio.create_task(conn.cancel(session_id=session.session_id))
        await cancel
        await asyncio.wait({prompt}, timeout=5)  # a lost cancel leaves the run at the gate
        gate.set()
        return (await prompt).stop_reason

    assert run(agent, RecordingClient(), body) == "cancelled"


def test_a_path_outside_the_root_is_never_a_location_for_the_editor(tmp_path: Path) -> None:
    """A read of /etc/passwd is refused, and the editor is not pointed at the file either."""
    agent = agent_for(ScriptedModel([call("read_file", file_path="/etc/passwd"), "ok"]))
    client = RecordingClient()

    async def body(conn: ClientSideConnection) -> None:
        session = await conn.new_session(cwd=str(tmp_path))
        await conn.prompt(session_id=session.session_id, prompt=ask("read"))

    run(agent, client, body)
    assert [start.locations for start in client.of("tool_call")] == [None]


def test_a_file_name_that_is_not_utf8_never_reaches_the_editor_raw(tmp_path: Path) -> None:
    """caf\\xe9.txt: its diff names it printably, /flush writes it to disk, not via the editor."""
    name = os.path.join(os.fsencode(tmp_path), b"caf\xe9.txt")
    with open(name, "wb") as handle:
        handle.write(b"old\n")
    edit = call("edit_file", file_path="caf\\xe9.txt", old_string="old", new_string="new")
    agent = agent_for(ScriptedModel([edit, "Done."]))
    client = RecordingClient()

    async def body(conn: ClientSideConnection) -> None:
        session = await conn.new_session(cwd=str(tmp_path))
        await conn.prompt(session_id=session.session_id, prompt=ask("edit"))
        await conn.prompt(session_id=session.session_id, prompt=ask("/flush"))

    run(agent, client, body, FS)
    diffs = [
        c.path for u in client.of("tool_call_update") for c in u.content or [] if c.type == "diff"
    ]
    with open(name, "rb") as handle:
        on_disk = handle.read()
    assert (diffs, client.writes, on_disk) == ([f"{tmp_path}/caf\\xe9.txt"], [], b"new\n")


def test_a_percent_encoded_file_uri_is_mentioned_by_its_real_name(tmp_path: Path) -> None:
    """A resource link to `file:///…/my%20notes.md` reaches the model as `@my notes.md`."""
    from tiller.acp_agent import prompt_text

    link = acp.resource_link_block(name="my notes.md", uri=f"file://{tmp_path}/my%20notes.md")
    assert prompt_text([acp.text_block("see "), link], tmp_path) == "see @my notes.md"


def test_replayed_tool_output_is_cut_like_live_output(tmp_path: Path) -> None:
    """session/load shows a tool's output cut at 20,000 characters, as it was shown live."""
    (tmp_path / "big.txt").write_text(("y" * 99 + "\n") * 1000)
    model = ScriptedModel([call("read_file", file_path="big.txt"), "Read."])

    client = replayed(model, tmp_path, "read")
    shown = [c.content.text for u in client.of("tool_call_update") for c in u.content or []]
    assert [len(text) <= 20_001 for text in shown] == [True]


def test_a_prompt_with_nothing_tiller_reads_calls_no_model(tmp_path: Path) -> None:
    """An image-only prompt (Tiller reads text and files) is answered, not sent empty."""
    model = ScriptedModel(["never"])
    client = RecordingClient()
    image = acp.image_block(data="aGk=", mime_type="image/png")

    async def body(conn: ClientSideConnection) -> str:
        session = await conn.new_session(cwd=str(tmp_path))
        reply = await conn.prompt(session_id=session.session_id, prompt=[image])
        return reply.stop_reason

    stop = run(agent_for(model), client, body)
    assert (stop, len(model.requests), client.text().startswith("Nothing to send")) == (
        "end_turn",
        0,
        True,
    )
