"""Session configuration: limits and knobs with sensible defaults."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tiller.approvals import ApprovalMode
from tiller.truncation import TruncationLimit

if TYPE_CHECKING:
    from tiller.mcp.config import McpServerConfig

DEFAULT_MODEL = "openrouter/anthropic/claude-sonnet-4.5"


@dataclass(slots=True)
class SessionConfig:
    """Limits for one session; every field has a default.

    Attributes:
        max_turns: model round-trips per `send` (overridden by `Session(max_turns=)`).
        max_subagent_depth: how deep subagents may nest (1: children cannot spawn).
        truncation: per-tool overrides of the output limits in DESIGN §3.
        loop_detection_window: how many recent tool calls loop detection looks at.
        context_warning_ratio: warn when a request uses this share of the window.
        compact_ratio: compact the history before a call once the last request used
            more than this share of the window (1.0 or more: only on an overflow error).
        compact_keep_tokens: at most this many tokens of the newest turns are kept
            verbatim after a compaction (and at most a quarter of the window).
        default_context_window: assumed window when the model's is unknown.
        parallel_tools: run a round of read-only tool calls concurrently.
        shell: offer the `shell` tool (commands run in a sandbox copy of the workspace).
        shell_approval: `ask` the person before each command (APPROVAL_REQUESTED),
            `allow` every command, or `deny` all but those `shell_allow` names.
        shell_allow: allow-list entries matched word for word on the parsed command
            (`ruff check`, `git status`); see `tiller.command_safety`.
        shell_timeout_ms: default per-command timeout; None takes the profile's.
        stall_timeout: seconds a provider may send nothing before the attempt is
            hung up and retried (a WARNING says so).
        shell_sandbox: `bwrap` confines every command (DESIGN §10); `none` runs them
            unconfined (only the user's own config may say so).
        shell_network: commands may reach the network (off by default).
        mcp_servers: MCP servers started with a top-level session; their tools join
            the registry as `mcp__<server>__<tool>` (see `tiller.mcp`).
    """

    max_turns: int = 10
    max_subagent_depth: int = 1
    truncation: dict[str, TruncationLimit] = field(default_factory=dict)
    loop_detection_window: int = 10
    context_warning_ratio: float = 0.8
    compact_ratio: float = 0.85
    compact_keep_tokens: int = 20_000
    default_context_window: int = 128_000
    parallel_tools: bool = True
    shell: bool = False
    shell_approval: ApprovalMode = "ask"
    shell_allow: tuple[str, ...] = ()
    shell_timeout_ms: int | None = None
    stall_timeout: float = 90.0
    shell_sandbox: str = "bwrap"
    shell_network: bool = False
    mcp_servers: tuple[McpServerConfig, ...] = ()


REASONING_EFFORTS = ("none", "low", "medium", "high")


def check_reasoning(effort: str | None) -> str | None:
    """`effort` when it is a reasoning effort Tiller offers (or None).

    Raises:
        ValueError: anything else, naming the choices.
    """
    if effort is None or effort in REASONING_EFFORTS:
        return effort
    raise ValueError(
        f"Unknown reasoning effort {effort!r}: use one of {', '.join(REASONING_EFFORTS)}."
    )
