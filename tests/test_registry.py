"""ToolRegistry: lookup, schemas, and calls that never raise for model mistakes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from tiller import Session, SessionConfig
from tiller.errors import ToolError, WorkspaceError
from tiller.model import ToolCall
from tiller.testing.scripted import ScriptedModel
from tiller.tools import file_tools
from tiller.tools.base import FunctionTool, ToolContext, schema_for
from tiller.tools.registry import ToolRegistry, ToolResult
from tiller.truncation import TruncationLimit
from tiller.workspace import Workspace

ECHO_SCHEMA = {
    "type": "object",
    "properties": {"text": {"type": "string"}, "times": {"type": "integer", "minimum": 1}},
    "required": ["text"],
    "additionalProperties": False,
}


def echo(args: dict[str, Any], ctx: ToolContext) -> str:
    return args["text"] * args.get("times", 1)


def tool(
    name: str = "echo", handler: Any = echo, schema: dict[str, Any] | None = None
) -> FunctionTool:
    return FunctionTool(name, f"The {name} tool.", schema or ECHO_SCHEMA, handler)


def raises(exc: BaseException) -> Any:
    def handler(args: dict[str, Any], ctx: ToolContext) -> str:
        raise exc

    return handler


def run(registry: ToolRegistry, name: str, arguments: str) -> ToolResult:
    return registry.execute(ToolCall("c1", name, arguments))


def test_names_in_registration_order() -> None:
    """names() lists tools in the order they were given."""
    assert ToolRegistry([tool("b"), tool("a")]).names() == ["b", "a"]


def test_get_returns_tool_or_none() -> None:
    """get() finds a tool by name and returns None for an unknown one."""
    echo_tool = tool()
    registry = ToolRegistry([echo_tool])
    assert (registry.get("echo"), registry.get("nope")) == (echo_tool, None)


def test_schemas_are_openai_function_schemas() -> None:
    """schemas() gives schema_for() of each tool."""
    echo_tool = tool()
    assert ToolRegistry([echo_tool]).schemas() == [schema_for(echo_tool)]


def test_duplicate_name_is_refused() -> None:
    """Two tools with one name are a programmer error."""
    with pytest.raises(ValueError, match="already registered"):
        ToolRegistry([tool(), tool()])


def test_replace_swaps_a_tool() -> None:
    """replace() puts a new tool in place of the one with the same name."""
    registry = ToolRegistry([tool()])
    registry.replace(tool(handler=lambda args, ctx: "replaced"))
    assert (registry.names(), run(registry, "echo", '{"text": "x"}').output) == (
        ["echo"],
        "replaced",
    )


def test_add_appends_a_tool() -> None:
    """add() registers a new tool after the existing ones."""
    registry = ToolRegistry([tool("a")])
    registry.add(tool("b"))
    assert registry.names() == ["a", "b"]


def test_invalid_schema_is_refused_at_registration() -> None:
    """A tool whose parameters are not a JSON Schema fails when registered."""
    with pytest.raises(SchemaError):
        ToolRegistry([tool(schema={"type": "no-such-type"})])


def test_success_result() -> None:
    """A good call returns the handler's text, not an error."""
    result = run(ToolRegistry([tool()]), "echo", '{"text": "hi", "times": 2}')
    assert result == ToolResult("c1", "echo", "hihi", "hihi", False)


def test_context_is_passed_through() -> None:
    """The handler receives the context given to execute()."""
    registry = ToolRegistry([tool(handler=lambda args, ctx: ctx.call_id)])
    result = registry.execute(ToolCall("c1", "echo", '{"text": ""}'), ToolContext(call_id="ctx"))
    assert result.output == "ctx"


def test_default_context_carries_call_id() -> None:
    """Without a context, the handler gets one with the call's id."""
    registry = ToolRegistry([tool(handler=lambda args, ctx: ctx.call_id)])
    assert run(registry, "echo", '{"text": ""}').output == "c1"


def test_unknown_tool_lists_available() -> None:
    """An unknown tool name is an error result naming the tools there are."""
    result = run(ToolRegistry([tool("a"), tool("b")]), "nope", "{}")
    assert (result.is_error, result.output) == (True, "Unknown tool: nope. Available tools: a, b")


def test_empty_arguments_mean_no_arguments() -> None:
    """An empty argument string is treated as {}."""
    registry = ToolRegistry([tool(schema={"type": "object"}, handler=lambda a, c: repr(a))])
    assert run(registry, "echo", "").output == "{}"


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (
            "{not json",
            "Invalid arguments for tool: echo: not valid JSON: "
            "Expecting property name enclosed in double quotes: line 1 column 2 (char 1)",
        ),
        ('["x"]', "Invalid arguments for tool: echo: expected a JSON object, got an array"),
        ('"x"', "Invalid arguments for tool: echo: expected a JSON object, got a string"),
        ("3", "Invalid arguments for tool: echo: expected a JSON object, got a number"),
        ("null", "Invalid arguments for tool: echo: expected a JSON object, got null"),
    ],
)
def test_malformed_json_arguments(arguments: str, expected: str) -> None:
    """Arguments that are not a JSON object become an error result."""
    result = run(ToolRegistry([tool()]), "echo", arguments)
    assert (result.is_error, result.output) == (True, expected)


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ('{"text": 5}', "$.text: 5 is not of type 'string'"),
        ("{}", "$: 'text' is a required property"),
        (
            '{"text": "a", "colour": "red"}',
            "$: Additional properties are not allowed ('colour' was unexpected)",
        ),
        ('{"text": "a", "times": 0}', "$.times: 0 is less than the minimum of 1"),
    ],
)
def test_schema_violation(arguments: str, expected: str) -> None:
    """Arguments that break the schema name the path and the problem."""
    result = run(ToolRegistry([tool()]), "echo", arguments)
    assert (result.is_error, result.output) == (
        True,
        f"Invalid arguments for tool: echo: {expected}",
    )


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (ToolError("bad input"), "Tool error (echo): bad input"),
        (WorkspaceError("no such file"), "Tool error (echo): no such file"),
        (KeyError("k"), "Tool error (echo): KeyError: 'k'"),
    ],
)
def test_handler_failure_becomes_error_result(exc: Exception, expected: str) -> None:
    """Whatever the handler raises comes back as `Tool error (name): ...`."""
    result = run(ToolRegistry([tool(handler=raises(exc))]), "echo", '{"text": "x"}')
    assert (result.is_error, result.output) == (True, expected)


def test_non_text_output_is_an_error() -> None:
    """A handler returning something other than str is an error result."""
    registry = ToolRegistry([tool(handler=lambda args, ctx: None)])
    result = run(registry, "echo", '{"text": "x"}')
    expected = "Tool error (echo): returned NoneType, not text"
    assert (result.is_error, result.output) == (True, expected)


def test_model_output_truncated_output_whole() -> None:
    """model_output is cut to the tool's limit; output keeps everything."""
    registry = ToolRegistry([tool()], limits={"echo": TruncationLimit(10, "tail")})
    result = run(registry, "echo", '{"text": "0123456789", "times": 3}')
    assert (result.output, result.model_output) == (
        "012345678901234567890123456789",
        "[... 20 characters omitted; the full output is in the event stream ...]\n0123456789",
    )


def test_error_output_is_truncated_too() -> None:
    """Long error messages are cut for the model like any other output."""
    registry = ToolRegistry(
        [tool(handler=raises(ToolError("x" * 50)))], limits={"echo": TruncationLimit(10, "tail")}
    )
    result = run(registry, "echo", '{"text": ""}')
    assert (result.output, result.model_output) == (
        "Tool error (echo): " + "x" * 50,
        "[... 59 characters omitted; the full output is in the event stream ...]\nxxxxxxxxxx",
    )


# -- Tiller's own schemas, checked here instead of at every session start ---------------


def every_builtin_tool(tmp_path: Path) -> list[Any]:
    skill_dir = tmp_path / "skills" / "demo"
    skill_dir.mkdir(parents=True)
    (skill_dir / "SKILL.md").write_text("---\nname: demo\ndescription: A demo.\n---\nBody.\n")
    session = Session(
        ScriptedModel([]),
        root=tmp_path / "work",
        skills_dirs=[tmp_path / "skills"],
        config=SessionConfig(shell=True),
    )
    try:
        tools = [session.registry.get(name) for name in session.registry.names()]
        tools += file_tools(session.workspace, edit_style="apply_patch")
        return tools
    finally:
        session.close()


def test_builtin_tool_schemas_are_valid_json_schema(tmp_path: Path) -> None:
    """Every built-in tool's schema passes the check the registry leaves to this test."""
    (tmp_path / "work").mkdir()
    tools = every_builtin_tool(tmp_path)
    broken = []
    for builtin in tools:
        try:
            Draft202012Validator.check_schema(builtin.parameters)
        except SchemaError as exc:
            broken.append((builtin.name, exc.message))
    assert (broken, len({t.name for t in tools}) >= 13) == ([], True)


def test_a_builtin_schema_is_not_checked_at_registration() -> None:
    """Registering a tool made in tiller.tools imports no jsonschema (its schema is fixed)."""
    code = (
        "import sys; from tiller.tools import file_tools, ToolRegistry; "
        "from tiller.workspace import Workspace; "
        "ToolRegistry(file_tools(Workspace())); print('jsonschema' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert (out.stdout.strip(), out.stderr) == ("False", "")


def test_building_a_session_leaves_jsonschema_unimported(tmp_path: Path) -> None:
    """A new Session has no validators yet: jsonschema waits for the first tool call."""
    code = (
        "import sys; from tiller import Session; "
        "from tiller.testing.scripted import ScriptedModel; "
        "Session(ScriptedModel([]), files={'a.txt': 'x'}, skills_dirs=[]).close(); "
        "print('jsonschema' in sys.modules)"
    )
    env = {**os.environ, "TILLER_CONFIG_DIR": str(tmp_path), "TILLER_DATA_DIR": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert (out.stdout.strip(), out.stderr) == ("False", "")


def test_builtin_tool_arguments_are_still_validated() -> None:
    """The first call of a built-in tool builds its validator and refuses bad arguments."""
    registry = ToolRegistry(file_tools(Workspace({"a.txt": "x\n"})))
    result = run(registry, "read_file", '{"file_path": "a.txt", "offset": 0}')
    assert (result.is_error, result.output) == (
        True,
        "Invalid arguments for tool: read_file: $.offset: 0 is less than the minimum of 1",
    )
