"""Prompt assembly, skills, subagents and many sessions, through litellm and the local server.

Every test drives a real `Session` over the real litellm client against
`FakeOpenAIServer` and reads what the model would have received from the
recorded requests: the system prompt is `body["messages"][0]["content"]`.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest

from tiller import Event, EventKind, FunctionTool, Session, SessionManager, ToolContext
from tiller.llm import preload
from tiller.project_docs import DEFAULT_BUDGET, default_user_dir
from tiller.testing.server import FakeOpenAIServer, ServerReply

_INSTRUCTIONS = re.compile(r'<instructions source="([^"]+)">\n(.*?)\n</instructions>', re.S)


@pytest.fixture(autouse=True)
def no_user_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point HOME and XDG_CONFIG_HOME at empty directories so ~/.config/tiller is not read."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "home" / ".config"))
    assert default_user_dir() == tmp_path / "home" / ".config" / "tiller"


@pytest.fixture(params=["litellm", "openai"])
def transport(request: pytest.FixtureRequest) -> str:
    """The transport a test runs on: each runs on both (DESIGN §11, same behaviour)."""
    return str(request.param)


def session(server: FakeOpenAIServer, **opts: Any) -> Session:
    """A session on `transport` to `server` (no skills unless given)."""
    opts.setdefault("skills_dirs", [])
    return Session("openai/fake-model", api_base=server.base_url, api_key="sk-test", **opts)


def system_prompt(server: FakeOpenAIServer, index: int) -> str:
    return str(server.requests[index].body["messages"][0]["content"])


def instructions(server: FakeOpenAIServer, index: int) -> list[tuple[str, str]]:
    """(source, text) of each `<instructions>` block in request `index`'s system prompt."""
    return _INSTRUCTIONS.findall(system_prompt(server, index))


def tool_names(server: FakeOpenAIServer, index: int) -> list[str]:
    return [tool["function"]["name"] for tool in server.requests[index].body["tools"]]


def tool_results(server: FakeOpenAIServer, index: int) -> list[str]:
    messages = server.requests[index].body["messages"]
    return [m["content"] for m in messages if m["role"] == "tool"]


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def call(tool: str, /, **args: Any) -> ServerReply:
    return ServerReply(tool_calls=[(tool, json.dumps(args))])


# -- project instructions ------------------------------------------------------------------


def test_instruction_files_load_root_to_cwd(
    fake_server: FakeOpenAIServer, tmp_path: Path, transport: str
) -> None:
    """AGENTS.md files load root first, then each directory down to cwd; seeded ones count."""
    write(tmp_path / "repo" / "AGENTS.md", "root rules")
    write(tmp_path / "repo" / "sub" / "AGENTS.md", "sub rules")
    write(tmp_path / "repo" / "other" / "AGENTS.md", "sibling rules")
    fake_server.add(ServerReply(text="ok"))
    seeded = {"sub/deeper/AGENTS.md": "deeper rules"}
    session(
        fake_server, transport=transport, root=tmp_path / "repo", files=seeded, cwd="sub/deeper"
    ).send("hi")
    assert instructions(fake_server, 0) == [
        ("AGENTS.md", "root rules"),
        ("sub/AGENTS.md", "sub rules"),
        ("sub/deeper/AGENTS.md", "deeper rules"),
    ]


@pytest.mark.parametrize(
    ("profile", "own_file"),
    [("anthropic", "CLAUDE.md"), ("openai", ".codex/instructions.md"), ("gemini", "GEMINI.md")],
)
def test_only_the_active_profiles_file_loads(
    fake_server: FakeOpenAIServer, profile: str, own_file: str, transport: str
) -> None:
    """Next to AGENTS.md only the active profile's own instructions file is read."""
    files = {
        "AGENTS.md": "shared",
        "CLAUDE.md": "claude only",
        "GEMINI.md": "gemini only",
        ".codex/instructions.md": "codex only",
    }
    fake_server.add(ServerReply(text="ok"))
    session(fake_server, transport=transport, files=files, profile=profile).send("hi")
    assert instructions(fake_server, 0) == [("AGENTS.md", "shared"), (own_file, files[own_file])]


def test_large_agents_md_is_truncated_at_the_budget(
    fake_server: FakeOpenAIServer, transport: str
) -> None:
    """A 40 KB AGENTS.md is cut at 32 KiB and ends with the visible truncation marker."""
    content = ("x" * 99 + "\n") * 400
    fake_server.add(ServerReply(text="ok"))
    session(fake_server, transport=transport, files={"AGENTS.md": content}).send("hi")
    expected = content[:DEFAULT_BUDGET] + "\n[Project instructions truncated at 32KB]"
    assert instructions(fake_server, 0) == [("AGENTS.md", expected)]


def test_truncation_cuts_on_a_utf8_boundary(fake_server: FakeOpenAIServer, transport: str) -> None:
    """A two-byte character straddling the 32,768-byte budget is dropped whole."""
    content = "a" + "é" * 20_000
    fake_server.add(ServerReply(text="ok"))
    session(fake_server, transport=transport, files={"AGENTS.md": content}).send("hi")
    expected = "a" + "é" * 16_383 + "\n[Project instructions truncated at 32KB]"
    assert instructions(fake_server, 0) == [("AGENTS.md", expected)]


def test_project_docs_are_reread_after_the_workspace_changes_them(
    fake_server: FakeOpenAIServer,
    transport: str,
) -> None:
    """AGENTS.md rewritten by a tool in round 1 is in round 2's system prompt."""
    fake_server.add(
        call("write_file", file_path="AGENTS.md", content="new rules"), ServerReply(text="ok")
    )
    session(fake_server, transport=transport, files={"AGENTS.md": "old rules"}).send(
        "update the rules"
    )
    rounds = [instructions(fake_server, 0), instructions(fake_server, 1)]
    assert rounds == [[("AGENTS.md", "old rules")], [("AGENTS.md", "new rules")]]


# -- skills ----------------------------------------------------------------------------------

REVIEW_SKILL = "---\nname: review\ndescription: Review a diff for bugs.\n---\nSECRET-BODY steps.\n"


def review_skills_dir(tmp_path: Path) -> Path:
    skills = tmp_path / "skills"
    write(skills / "review" / "SKILL.md", REVIEW_SKILL)
    return skills


def test_skill_catalog_listed_but_body_absent_before_loading(
    fake_server: FakeOpenAIServer, tmp_path: Path, transport: str
) -> None:
    """The first request lists the skill in the catalog and does not contain its body."""
    fake_server.add(ServerReply(text="ok"))
    session(fake_server, transport=transport, skills_dirs=[review_skills_dir(tmp_path)]).send(
        "review"
    )
    prompt = system_prompt(fake_server, 0)
    body = json.dumps(fake_server.requests[0].body)
    catalog = (
        "<skill>\n<name>review</name>\n<description>Review a diff for bugs.</description>\n"
        f"<location>{tmp_path / 'skills' / 'review' / 'SKILL.md'}</location>\n</skill>"
    )
    assert (catalog in prompt, "SECRET-BODY" in body) == (True, False)


def test_skill_body_arrives_as_the_skill_tool_result(
    fake_server: FakeOpenAIServer, tmp_path: Path, transport: str
) -> None:
    """After the model calls `skill`, the next request carries the body as the tool result."""
    fake_server.add(call("skill", name="review"), ServerReply(text="ok"))
    session(fake_server, transport=transport, skills_dirs=[review_skills_dir(tmp_path)]).send(
        "review"
    )
    results = tool_results(fake_server, 1)
    assert results == [
        f'<skill name="review">\nSECRET-BODY steps.\n</skill>\n\n'
        f"Skill directory: {tmp_path / 'skills' / 'review'}"
    ]


def test_loading_a_skill_emits_skill_loaded(
    fake_server: FakeOpenAIServer, tmp_path: Path, transport: str
) -> None:
    """Calling the `skill` tool emits one SKILL_LOADED event naming the skill."""
    fake_server.add(call("skill", name="review"), ServerReply(text="ok"))
    agent = session(fake_server, transport=transport, skills_dirs=[review_skills_dir(tmp_path)])
    events: list[Event] = []
    agent.subscribe(events.append)
    agent.send("review")
    loaded = [e.data for e in events if e.kind is EventKind.SKILL_LOADED]
    path = str(tmp_path / "skills" / "review" / "SKILL.md")
    assert loaded == [{"name": "review", "path": path}]


def test_invalid_skills_are_reported_and_left_out_of_the_catalog(
    fake_server: FakeOpenAIServer, tmp_path: Path, transport: str
) -> None:
    """A skill with a bad name or no description is a diagnostic, not a catalog entry."""
    skills = review_skills_dir(tmp_path)
    write(skills / "Bad_Name" / "SKILL.md", "---\nname: Bad_Name\ndescription: x\n---\nbody\n")
    write(skills / "mute" / "SKILL.md", "---\nname: mute\n---\nbody\n")
    fake_server.add(ServerReply(text="ok"))
    agent = session(fake_server, transport=transport, skills_dirs=[skills])
    agent.send("hi")
    reported = [(d.path.parent.name, d.severity) for d in agent.skill_diagnostics]
    listed = re.findall(r"<name>(.*?)</name>", system_prompt(fake_server, 0))
    assert (reported, listed) == ([("Bad_Name", "error"), ("mute", "error")], ["review"])


# -- subagents -------------------------------------------------------------------------------

SPAWN_AND_WAIT = ServerReply(
    tool_calls=[
        ("spawn_agent", json.dumps({"task": "write b.txt"})),
        ("wait", json.dumps({"agent_id": "agent_1"})),
    ]
)


def test_subagent_write_is_visible_to_the_parent(
    fake_server: FakeOpenAIServer, transport: str
) -> None:
    """A file the child writes is in the parent's workspace when the parent finishes."""
    # One reply queue in request order: parent, child, child, parent.
    fake_server.add(
        SPAWN_AND_WAIT,
        call("write_file", file_path="b.txt", content="from child"),
        ServerReply(text="child done"),
        ServerReply(text="parent done"),
    )
    reply = session(fake_server, transport=transport).send("delegate")
    assert (reply.text, reply.files) == ("parent done", {"b.txt": "from child"})


def test_child_at_the_depth_limit_has_no_spawn_tool(
    fake_server: FakeOpenAIServer, transport: str
) -> None:
    """The parent's request offers spawn_agent; the child's (depth 1 of 1) does not."""
    fake_server.add(SPAWN_AND_WAIT, ServerReply(text="child"), ServerReply(text="parent"))
    session(fake_server, transport=transport).send("delegate")
    offered = ["spawn_agent" in tool_names(fake_server, i) for i in range(3)]
    assert offered == [True, False, True]


# -- tool sets -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "profile", "expected"),
    [
        ("openai/gpt-4o", None, (True, False)),
        ("openai/fake-model", "openai", (True, False)),
        ("openai/fake-model", "anthropic", (False, True)),
        ("openai/fake-model", "gemini", (False, True)),
    ],
)
def test_edit_tool_follows_the_profile(
    fake_server: FakeOpenAIServer, model: str, profile: str | None, expected: tuple[bool, bool]
) -> None:
    """The OpenAI profile offers apply_patch and no edit_file; the others the reverse."""
    fake_server.add(ServerReply(text="ok"))
    Session(
        model, api_base=fake_server.base_url, api_key="sk-test", skills_dirs=[], profile=profile
    ).send("hi")
    names = tool_names(fake_server, 0)
    assert ("apply_patch" in names, "edit_file" in names) == expected


def test_custom_tool_replaces_the_builtin_of_the_same_name(
    fake_server: FakeOpenAIServer, transport: str
) -> None:
    """A `tools=` entry named read_file is the only read_file offered, and it is what runs."""

    def read(args: dict[str, Any], ctx: ToolContext) -> str:
        return f"custom read of {args['file_path']}"

    custom = FunctionTool(
        name="read_file",
        description="Custom reader.",
        parameters={
            "type": "object",
            "properties": {"file_path": {"type": "string"}},
            "required": ["file_path"],
        },
        handler=read,
    )
    fake_server.add(call("read_file", file_path="a.txt"), ServerReply(text="ok"))
    session(fake_server, transport=transport, files={"a.txt": "real"}, tools=[custom]).send(
        "read a.txt"
    )
    offered = [
        t["function"]["description"]
        for t in fake_server.requests[0].body["tools"]
        if t["function"]["name"] == "read_file"
    ]
    assert (offered, tool_results(fake_server, 1)) == (
        ["Custom reader."],
        ["custom read of a.txt"],
    )


# -- many sessions ---------------------------------------------------------------------------


def test_twenty_sessions_run_concurrently_through_the_manager(
    fake_server: FakeOpenAIServer,
    transport: str,
) -> None:
    """20 sessions against a 0.5 s server finish in well under the 10 s one at a time takes."""
    # One-off costs are not what is measured: preload() imports litellm, and one real
    # call imports the openai SDK's resources (~0.5 s), which preload() does not reach.
    preload()
    fake_server.add(ServerReply(text="warm"))
    session(fake_server, transport=transport).send("warm up")
    fake_server.default = ServerReply(text="done", delay=0.5)
    with SessionManager(
        model="openai/fake-model",
        api_base=fake_server.base_url,
        api_key="sk-test",
        skills_dirs=[],
    ) as manager:
        ids = [f"s{i}" for i in range(20)]
        for id_ in ids:
            manager.start(id_)
        started = time.perf_counter()
        futures = [manager.submit(id_, "go") for id_ in ids]
        texts = [future.result(timeout=30).text for future in futures]
        wall = time.perf_counter() - started
    # Ideal is 0.5 s; a bound at half of serial survives a loaded 2-core machine.
    assert (texts, wall < 0.5 * 20 / 2) == (["done"] * 20, True)
