"""The real `tiller acp` process, driven by the ACP SDK client against the local model server."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import acp
from acp.schema import ClientCapabilities, FileSystemCapabilities

from acp_harness import RecordingClient
from tiller.testing.server import FakeOpenAIServer, ServerReply

TILLER = str(Path(sys.executable).parent / "tiller")


def agent_env() -> dict[str, str]:
    return {**os.environ, "OPENAI_API_KEY": "sk-test", "TILLER_SHELL": "0"}


def agent_args(server: FakeOpenAIServer) -> list[str]:
    """`tiller acp` on the local server through the lean client, with the edit_file tool."""
    return [
        "acp",
        "--model",
        "openai/fake-model",
        "--api-base",
        server.base_url,
        "--transport",
        "openai",
        "--profile",
        "anthropic",
    ]


async def session_over_process(
    server: FakeOpenAIServer,
    root: Path,
    client: RecordingClient,
    prompts: list[str],
    capabilities: ClientCapabilities | None = None,
) -> list[Any]:
    """Start `tiller acp`, open a session on `root`, send `prompts`; their responses."""
    args = agent_args(server)
    async with acp.spawn_agent_process(client, TILLER, *args, env=agent_env(), cwd=root) as (
        conn,
        process,
    ):
        await conn.initialize(
            protocol_version=acp.PROTOCOL_VERSION, client_capabilities=capabilities
        )
        session = await conn.new_session(cwd=str(root))
        replies = []
        for text in prompts:
            replies.append(
                await conn.prompt(session_id=session.session_id, prompt=[acp.text_block(text)])
            )
    assert process.returncode is not None
    return replies


def test_process_streams_an_edit_as_a_diff_and_flushes_through_the_editor(
    tmp_path: Path, fake_server: FakeOpenAIServer
) -> None:
    """`tiller acp`: prompt -> edit shown as a diff -> /flush through fs/write_text_file."""
    (tmp_path / "a.txt").write_text("old\n")
    args = json.dumps({"file_path": "a.txt", "old_string": "old", "new_string": "new"})
    fake_server.add(ServerReply(tool_calls=[("edit_file", args)]), ServerReply(text="Edited."))
    client = RecordingClient()
    fs = ClientCapabilities(fs=FileSystemCapabilities(write_text_file=True))
    replies = asyncio.run(
        asyncio.wait_for(
            session_over_process(fake_server, tmp_path, client, ["edit a", "/flush"], fs), 60
        )
    )
    diff = next(u for u in client.of("tool_call_update") if u.content).content[0]
    seen = ([r.stop_reason for r in replies], diff.old_text, diff.new_text, client.writes)
    assert seen == (
        ["end_turn", "end_turn"],
        "old\n",
        "new\n",
        [(str(tmp_path / "a.txt"), "new\n")],
    )


def test_process_flushes_to_disk_without_client_fs(
    tmp_path: Path, fake_server: FakeOpenAIServer
) -> None:
    """Without the client's fs capability, `/flush` in `tiller acp` writes the disk itself."""
    args = json.dumps({"file_path": "n.txt", "content": "made\n"})
    fake_server.add(ServerReply(tool_calls=[("write_file", args)]), ServerReply(text="Done."))
    client = RecordingClient()
    asyncio.run(
        asyncio.wait_for(
            session_over_process(fake_server, tmp_path, client, ["make n", "/flush"]), 60
        )
    )
    assert ((tmp_path / "n.txt").read_text(), client.writes) == ("made\n", [])


def test_acp_refuses_a_terminal_stdout(tmp_path: Path) -> None:
    """On a terminal (no editor), `tiller acp` says so and exits with the usage code."""
    import pty

    leader, follower = pty.openpty()
    try:
        done = subprocess.run(
            [TILLER, "acp"],
            stdout=follower,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            env=agent_env(),
            timeout=60,
            check=False,
        )
    finally:
        os.close(follower)
        os.close(leader)
    assert (done.returncode, b"editor" in done.stderr) == (2, True)


STRAY_PRINTER = """
import asyncio, sys
from tiller import Session
from tiller.acp_agent import TillerAgent, serve
from tiller.testing.scripted import ScriptedModel

def new(root, mcp):
    print("stray text on stdout")  # a careless library call must not break the protocol
    return Session(ScriptedModel(["ok"]), root=root, skills_dirs=[])

asyncio.run(serve(TillerAgent(new)))
"""


def test_stray_stdout_writes_never_reach_the_protocol(tmp_path: Path) -> None:
    """Text printed to stdout inside the agent goes to stderr; the session still works."""
    client = RecordingClient()

    async def main() -> tuple[str, bytes]:
        async with acp.spawn_agent_process(
            client, sys.executable, "-c", STRAY_PRINTER, env=agent_env(), cwd=tmp_path
        ) as (conn, process):
            await conn.initialize(protocol_version=acp.PROTOCOL_VERSION)
            session = await conn.new_session(cwd=str(tmp_path))
            reply = await conn.prompt(session_id=session.session_id, prompt=[acp.text_block("hi")])
        assert process.stderr is not None
        return reply.stop_reason, await process.stderr.read()

    stop, stderr = asyncio.run(asyncio.wait_for(main(), 60))
    assert (stop, b"stray text on stdout" in stderr) == ("end_turn", True)


def test_hanging_up_mid_prompt_ends_the_process_cleanly(
    tmp_path: Path, fake_server: FakeOpenAIServer
) -> None:
    """The editor closing stdin while the model answers cancels the run; the agent exits 0."""
    gate = threading.Event()
    fake_server.add(ServerReply(text="never seen", gate=gate))
    client = RecordingClient()

    async def main() -> int | None:
        async with acp.spawn_agent_process(
            client, TILLER, *agent_args(fake_server), env=agent_env(), cwd=tmp_path
        ) as (conn, process):
            await conn.initialize(protocol_version=acp.PROTOCOL_VERSION)
            session = await conn.new_session(cwd=str(tmp_path))
            turn = asyncio.create_task(
                conn.prompt(session_id=session.session_id, prompt=[acp.text_block("hi")])
            )
            await asyncio.to_thread(fake_server.wait_for_requests, 1)
        turn.cancel()
        return process.returncode

    try:
        code = asyncio.run(asyncio.wait_for(main(), 60))
    finally:
        gate.set()
    assert code == 0


def test_a_missing_shell_is_said_before_the_first_answer(
    tmp_path: Path, fake_server: FakeOpenAIServer
) -> None:
    """`tiller acp --shell` where bwrap cannot be found says why the shell is off."""
    fake_server.add(ServerReply(text="Hi."))
    client = RecordingClient()
    no_tools = tmp_path / "bin"
    no_tools.mkdir()

    async def main() -> None:
        env = {**agent_env(), "PATH": str(no_tools)}
        args = [*agent_args(fake_server), "--shell"]
        async with acp.spawn_agent_process(client, TILLER, *args, env=env, cwd=tmp_path) as (
            conn,
            _,
        ):
            await conn.initialize(protocol_version=acp.PROTOCOL_VERSION)
            session = await conn.new_session(cwd=str(tmp_path))
            for text in ("one", "two"):
                await conn.prompt(session_id=session.session_id, prompt=[acp.text_block(text)])

    fake_server.add(ServerReply(text="Again."))
    asyncio.run(asyncio.wait_for(main(), 60))
    text, first = client.text(), client.of("agent_message_chunk")[0].content.text
    # The notice is a chunk of its own, without the blank line after it (toad hides it).
    seen = (text.count("The shell tool is off"), first.endswith("\n"), text.endswith("Hi.Again."))
    assert seen == (1, False, True)
