"""Session configuration: limits and knobs with sensible defaults."""

from __future__ import annotations

from dataclasses import dataclass, field

from tiller.approvals import ApprovalMode
from tiller.truncation import TruncationLimit

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
        default_context_window: assumed window when the model's is unknown.
        parallel_tools: run a round of read-only tool calls concurrently.
        shell: offer the `shell` tool (commands run in a sandbox copy of the workspace).
        shell_approval: `ask` the person before each command (APPROVAL_REQUESTED),
            `allow` every command, or `deny` all but those `shell_allow` names.
        shell_allow: command patterns that run without asking (`pytest`, `npm test`, `git *`).
        shell_timeout_ms: default per-command timeout; None takes the profile's.
        shell_sandbox: `bwrap` confines every command (DESIGN §10); `none` runs them
            unconfined (only the user's own config may say so).
        shell_network: commands may reach the network (off by default).
    """

    max_turns: int = 10
    max_subagent_depth: int = 1
    truncation: dict[str, TruncationLimit] = field(default_factory=dict)
    loop_detection_window: int = 10
    context_warning_ratio: float = 0.8
    default_context_window: int = 128_000
    parallel_tools: bool = True
    shell: bool = False
    shell_approval: ApprovalMode = "ask"
    shell_allow: tuple[str, ...] = ()
    shell_timeout_ms: int | None = None
    shell_sandbox: str = "bwrap"
    shell_network: bool = False
