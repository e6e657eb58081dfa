"""`ToolRegistry`: the tools a session offers, and the one place tool calls run.

`execute` turns every model mistake (unknown tool, bad JSON, arguments that
break the schema, a tool that fails) into an error `ToolResult`; it never raises
for them.
"""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tiller.errors import TillerError
from tiller.model import ToolCall
from tiller.tools.base import FunctionTool, Tool, ToolContext, schema_for
from tiller.truncation import TruncationLimit, truncate_output

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ToolResult:
    """The outcome of one tool call.

    Attributes:
        call_id: the model's id for the call.
        name: the tool the model asked for.
        output: the full text, for the host (events, transcript).
        model_output: `output` truncated to the tool's limit, for the model.
        is_error: whether the call failed.
    """

    call_id: str
    name: str
    output: str
    model_output: str
    is_error: bool = False


class ToolRegistry:
    """Tools by name, with argument validation and output truncation.

    Args:
        tools: the tools to offer; names must be unique.
        limits: per-tool truncation overrides (see `tiller.truncation`).

    Raises:
        ValueError: two tools share a name.
        jsonschema.SchemaError: a tool's `parameters` is not a valid JSON Schema.
    """

    def __init__(
        self, tools: Iterable[Tool], limits: dict[str, TruncationLimit] | None = None
    ) -> None:
        self._tools: dict[str, Tool] = {}
        # Built on a tool's first call: jsonschema costs ~50 ms to import, and a
        # session that never calls a tool need not pay it.
        self._validators: dict[str, Draft202012Validator] = {}
        self._schemas: list[dict[str, Any]] | None = None
        self.limits: dict[str, TruncationLimit] = dict(limits or {})
        for tool in tools:
            self.add(tool)

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def __len__(self) -> int:
        return len(self._tools)

    def names(self) -> list[str]:
        """Tool names in registration order."""
        return list(self._tools)

    def get(self, name: str) -> Tool | None:
        """The tool called `name`, or None."""
        return self._tools.get(name)

    def schemas(self) -> list[dict[str, Any]]:
        """The OpenAI function-tool schemas of every tool, in registration order.

        Built once per change of the tool set; the dicts are shared between
        calls, so treat them as read-only.
        """
        schemas = self._schemas
        if schemas is None:
            schemas = self._schemas = [schema_for(tool) for tool in self._tools.values()]
        return list(schemas)

    def add(self, tool: Tool) -> None:
        """Register a new tool.

        Raises:
            ValueError: a tool with that name is already registered (use `replace`).
            jsonschema.SchemaError: the tool's `parameters` is not a valid schema.
        """
        if tool.name in self._tools:
            raise ValueError(f"A tool named {tool.name!r} is already registered; use replace()")
        self.replace(tool)

    def replace(self, tool: Tool) -> None:
        """Register `tool`, replacing any tool of the same name.

        Raises:
            jsonschema.SchemaError: the tool's `parameters` is not a valid schema.
        """
        # A broken schema is the tool author's bug: fail at registration, not mid-run.
        # Tiller's own tools are checked by its tests instead (their schemas are fixed).
        if not _written_by_tiller(tool):
            self._validators[tool.name] = _validator(tool.parameters)
        else:
            self._validators.pop(tool.name, None)
        self._tools[tool.name] = tool
        self._schemas = None

    def execute(self, call: ToolCall, ctx: ToolContext | None = None) -> ToolResult:
        """Run one tool call; failures come back as error results, never as exceptions.

        Args:
            call: the call as the model issued it (arguments are raw JSON text;
                an empty string means no arguments).
            ctx: the call's context; a fresh one when omitted.

        Returns:
            The result, its `model_output` truncated to the tool's limit.
        """
        tool = self._tools.get(call.name)
        if tool is None:
            available = ", ".join(self._tools) or "none"
            return self._result(
                call, f"Unknown tool: {call.name}. Available tools: {available}", True
            )
        args = self._arguments(call)
        if isinstance(args, str):
            return self._result(call, f"Invalid arguments for tool: {call.name}: {args}", True)
        try:
            output = tool.run(args, ctx or ToolContext(call_id=call.id))
        except TillerError as exc:
            return self._result(call, f"Tool error ({call.name}): {exc}", True)
        except Exception as exc:
            logger.debug("tool %s failed", call.name, exc_info=True)
            message = f"{type(exc).__name__}: {exc}"
            return self._result(call, f"Tool error ({call.name}): {message}", True)
        if not isinstance(output, str):
            kind = type(output).__name__
            return self._result(call, f"Tool error ({call.name}): returned {kind}, not text", True)
        return self._result(call, output, False)

    def _arguments(self, call: ToolCall) -> dict[str, Any] | str:
        """The decoded, validated arguments, or why they are invalid."""
        raw = call.arguments
        if not raw or not raw.strip():
            args: Any = {}
        else:
            try:
                args = json.loads(raw)
            except (json.JSONDecodeError, RecursionError) as exc:
                return f"not valid JSON: {exc}"
        if not isinstance(args, dict):
            return f"expected a JSON object, got {_json_type(args)}"
        from jsonschema.exceptions import best_match

        try:
            validator = self._validators.get(call.name)
            if validator is None:
                parameters = self._tools[call.name].parameters
                validator = self._validators[call.name] = _validator(parameters)
            error = best_match(validator.iter_errors(args))
        except Exception as exc:  # whatever a foreign schema does, the run goes on
            # A schema from elsewhere (an MCP server) can loop (`$ref` to itself: a
            # RecursionError) or name a `$ref` that resolves nowhere.
            return f"the tool's input schema cannot be checked ({type(exc).__name__}: {exc})"
        if error is not None:
            return f"{error.json_path}: {error.message}"
        return args

    def _result(self, call: ToolCall, output: str, is_error: bool) -> ToolResult:
        return ToolResult(
            call_id=call.id,
            name=call.name,
            output=output,
            model_output=truncate_output(call.name, output, self.limits),
            is_error=is_error,
        )


_VALIDATORS: dict[str, Draft202012Validator] = {}


def _validator(schema: dict[str, Any]) -> Draft202012Validator:
    """A validator for `schema`, checked first; shared by every registry with that schema.

    Raises:
        jsonschema.SchemaError: `schema` is not a valid JSON Schema.
    """
    # Checking a schema costs ~1 ms and building its validator ~0.1 ms; every session
    # registers the same built-ins. Validators keep no state between validations; each
    # gets its own copy of the schema so a caller mutating theirs cannot change it.
    from jsonschema import Draft202012Validator

    key = json.dumps(schema, sort_keys=True, default=str)
    validator = _VALIDATORS.get(key)
    if validator is None:
        Draft202012Validator.check_schema(schema)
        validator = _VALIDATORS[key] = Draft202012Validator(copy.deepcopy(schema))
    return validator


def _written_by_tiller(tool: Tool) -> bool:
    """Whether `tool` is one of Tiller's built-ins (a `FunctionTool` made in `tiller.tools`)."""
    if not isinstance(tool, FunctionTool):
        return False
    return str(getattr(tool.handler, "__module__", "")).startswith("tiller.tools.")


def _json_type(value: object) -> str:
    names = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    for kind, name in names.items():
        if isinstance(value, kind):
            return name
    return "a number"
