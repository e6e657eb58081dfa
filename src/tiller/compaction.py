"""Compaction: replace the older history with a model-written summary.

The history becomes one summary turn (a user message, so every provider accepts
it first) plus the newest turns that fit a budget. The kept tail always starts
at a user turn, so a tool call is never separated from its result. Queues,
workspace, undo checkpoints and usage totals are not touched; the summary
call's tokens are added to the usage like any other call.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any, Literal

from tiller.errors import CompactionError
from tiller.events import EventKind
from tiller.history import ToolResultsTurn, Turn, UserTurn, to_messages
from tiller.model import Usage

if TYPE_CHECKING:
    from tiller.session import Session

CompactReason = Literal["manual", "auto", "overflow"]

SUMMARY_HEADER = (
    "[Context compacted] The earlier conversation was replaced by this summary to free "
    "context. The workspace holds the current files: read them again rather than relying "
    "on memory of them."
)
OMITTED = "[The oldest part of the conversation is omitted here: it did not fit one request.]"
CHARS_PER_TOKEN = 4
"""A rough, provider-independent estimate; real counts arrive with the next call's usage."""
KEEP_SHARE = 0.25
"""At most this share of the window is kept verbatim, so the result lands well under the
`compact_ratio` threshold with room for the summary and the system prompt."""
SUMMARY_ATTEMPTS = 3
"""Summary calls per compaction: each overflow drops the older half of what is summarised."""


@dataclass(frozen=True, slots=True)
class Compaction:
    """What one compaction did.

    Attributes:
        tokens_before: estimated tokens of the next request before compacting.
        tokens_after: estimated tokens of the next request afterwards.
        turns_before: history turns before.
        turns_after: history turns afterwards (the summary turn plus the kept ones).
        kept_turns: turns kept verbatim after the summary.
        summary: the summary the model wrote.
        reason: `manual` (`Session.compact`, `/compact`), `auto` (above `compact_ratio`)
            or `overflow` (the provider said the request did not fit).
        usage: tokens and cost of the summary call(s).
    """

    tokens_before: int
    tokens_after: int
    turns_before: int
    turns_after: int
    kept_turns: int
    summary: str
    reason: CompactReason
    usage: Usage

    def to_dict(self) -> dict[str, Any]:
        """The event / journal payload (without the usage, which `USAGE` totals carry)."""
        return {
            "tokens_before": self.tokens_before,
            "tokens_after": self.tokens_after,
            "turns_before": self.turns_before,
            "turns_after": self.turns_after,
            "kept_turns": self.kept_turns,
            "summary": self.summary,
            "reason": self.reason,
        }


@cache
def compact_prompt() -> str:
    """The instructions the model summarises under (`prompts/compact.md`)."""
    path = resources.files("tiller").joinpath("prompts", "compact.md")
    return path.read_text(encoding="utf-8").strip()


def estimate_tokens(
    messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None
) -> int:
    """Roughly how many tokens `messages` (and tool schemas) take: characters / 4."""
    size = len(json.dumps(messages, ensure_ascii=False, default=str))
    if tools:
        size += len(json.dumps(tools, ensure_ascii=False, default=str))
    return size // CHARS_PER_TOKEN


def summary_turn(summary: str) -> UserTurn:
    """The turn that stands for everything compacted away."""
    return UserTurn(f"{SUMMARY_HEADER}\n\n<summary>\n{summary.strip()}\n</summary>", "summary")


def summary_of(turn: UserTurn) -> str:
    """The model's summary inside a summary turn (the turn's text when it is not one)."""
    inner = turn.text.partition("<summary>\n")[2]
    return inner.removesuffix("\n</summary>") if inner else turn.text


def split_history(history: list[Turn], budget: int) -> tuple[list[Turn], list[Turn]]:
    """(to summarise, to keep): the newest turns within `budget` tokens, starting at a user turn.

    The head is never empty when there is history: a history that fits whole
    still has its older part summarised (only turns after a later user turn are
    kept). When no user turn starts a tail that fits, nothing is kept.
    """
    cut = len(history)
    size = 0
    for index in range(len(history) - 1, 0, -1):
        size += estimate_tokens(to_messages("", [history[index]]))
        if size > budget:
            break
        if isinstance(history[index], UserTurn):
            cut = index
    return history[:cut], history[cut:]


def trim_oldest(head: list[Turn]) -> list[Turn] | None:
    """`head` without its older half (None when nothing can go); it never opens on a result."""
    start = len(head) // 2
    while start < len(head) and isinstance(head[start], ToolResultsTurn):
        start += 1
    if start == 0 or start >= len(head):
        return None
    rest = head[start:]
    return rest if isinstance(rest[0], UserTurn) else [UserTurn(OMITTED, "summary"), *rest]


def compact_history(
    session: Session, instructions: str | None = None, *, reason: CompactReason = "manual"
) -> Compaction:
    """Summarise `session`'s older history and keep the newest turns (the caller owns the state).

    Emits `CONTEXT_COMPACTED`; the summary call's usage goes into `session.usage`.

    Raises:
        CompactionError: nothing to compact, the model failed or wrote nothing, or the
            run was cancelled (`session.cancel_token` is set then).
        AuthError: the provider rejected the credentials.
    """
    from tiller.errors import AuthError, ContextOverflowError, ProviderError

    history = list(session.history)
    if not history:
        raise CompactionError("Nothing to compact yet: the conversation is empty.")
    before = session.build_request()
    tokens_before = estimate_tokens(before.messages, before.tools)
    window = session.context_window
    budget = min(session.config.compact_keep_tokens, int(window * KEEP_SHARE))
    head, tail = split_history(history, budget)
    usage = Usage()
    summary: str | None = None
    focus = f"\n\nPay particular attention to: {instructions.strip()}" if instructions else ""
    system = session.build_system_prompt()
    subject: list[Turn] | None = head
    for _ in range(SUMMARY_ATTEMPTS):
        if subject is None:
            break
        messages = to_messages(system, subject)
        messages.append({"role": "user", "content": compact_prompt() + focus})
        # The same tools and options as the loop's calls: a provider may refuse tool
        # calls in the history without tool definitions, and the prefix stays cached.
        request = dataclasses.replace(before, messages=messages)
        try:
            response = session.client.complete(
                request,
                on_text=lambda _delta: None,
                cancel=session.cancel_token,
                on_retry=lambda message: session.emit(
                    EventKind.WARNING, message=message, retry=True
                ),
            )
        except AuthError:
            raise
        except ContextOverflowError:
            subject = trim_oldest(subject)
            continue
        except ProviderError as exc:
            session.usage.add(usage)
            raise CompactionError(f"Compaction failed: {exc}") from exc
        usage.add(response.usage)
        if response.finish_reason == "cancelled":
            session.usage.add(usage)
            raise CompactionError("Compaction was cancelled; the history is unchanged.")
        summary = response.text.strip()
        break
    session.usage.add(usage)
    if summary is None:
        raise CompactionError(
            "Compaction failed: even the newest part of the conversation does not fit "
            "the model's context window."
        )
    if not summary:
        raise CompactionError("Compaction failed: the model wrote no summary.")
    compacted: list[Turn] = [summary_turn(summary), *tail]
    session.replace_history(compacted)
    after = session.build_request()
    result = Compaction(
        tokens_before=tokens_before,
        tokens_after=estimate_tokens(after.messages, after.tools),
        turns_before=len(history),
        turns_after=len(compacted),
        kept_turns=len(tail),
        summary=summary,
        reason=reason,
        usage=usage,
    )
    session.last_input_tokens = result.tokens_after
    session.emit(
        EventKind.CONTEXT_COMPACTED,
        **result.to_dict(),
        context_window=window,
        total=session.usage.to_dict(),
    )
    return result
