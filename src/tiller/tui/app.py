"""The Textual app: options, session factory, quitting, and user-facing error texts.

Importing this module imports Textual but neither litellm nor the session
engine; both load after the first frame is on screen.
"""

from __future__ import annotations

import asyncio
import gc
import os
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import events
from textual.app import App
from textual.filter import LineFilter
from textual.screen import Screen

from tiller.terminal_text import visible
from tiller.tui.commands import SlashCommandsProvider
from tiller.tui.control_filter import ControlFilter
from tiller.tui.markup import escape
from tiller.tui.screens.main import MainScreen

if TYPE_CHECKING:
    from tiller.config import SessionConfig
    from tiller.model import ModelClient
    from tiller.session import Session
    from tiller.workspace import Workspace


@dataclass
class TuiOptions:
    """How to start the TUI.

    Attributes:
        root: the workspace root (read-only until flushed).
        model: a litellm model id (None: `TILLER_MODEL`, then the default).
        cwd: where the person stands, relative to `root`.
        max_turns: model round-trips per prompt.
        profile: tool/prompt profile (None: from the model).
        skills_dirs: where to look for skills (None: the defaults).
        llm_options: forwarded to the provider (`api_base`, `api_key`, ...).
        client: a model client to use instead of litellm (tests: `ScriptedModel`).
        clock: the time source for timestamps and export names (tests freeze it).
        animate: spinner and cursor blink (tests turn them off).
        preload: after the first frame, load the model client's modules (litellm, or
            the lean client and its pool) in the background.
        journal: journal every session from its first prompt so it can be resumed.
        resume: a saved session id; the first session is restored from its journal.
        config: engine limits for every session (None: `SessionConfig()` defaults).
        theme: a Textual theme name from the config (validated there).
        export_dir: where Ctrl+X writes patches (None: Tiller's data directory).
        theme_file: the config file where a theme chosen in the app is remembered
            (None: not remembered; `tiller` passes the user's config file).
        prompt: sent as the first prompt once the session is up (`tiller "PROMPT"`).
        typed_ahead: what was typed before the app took the terminal (see `typeahead`).
        hangup_closes: a closed terminal (SIGHUP) or SIGTERM closes the sessions and
            exits as Ctrl+Q would without asking (`tiller` sets it; tests do not):
            the default action killed the process and left its shell sandbox behind.
    """

    root: Path
    model: str | None = None
    cwd: str = ""
    max_turns: int = 50
    profile: str | None = None
    skills_dirs: list[Path] | None = None
    llm_options: dict[str, Any] = field(default_factory=dict)
    client: ModelClient | None = None
    clock: Callable[[], float] = time.time
    animate: bool = True
    preload: bool = True
    journal: bool = False
    resume: str | None = None
    config: SessionConfig | None = None
    theme: str | None = None
    export_dir: Path | None = None
    theme_file: Path | None = None
    prompt: str | None = None
    hangup_closes: bool = False
    typed_ahead: str = ""


def short_path(path: Path) -> str:
    """`path` with the home directory written as `~`."""
    home = str(Path.home())
    text = str(path)
    return "~" + text[len(home) :] if home != "/" and text.startswith(home) else text


class TillerApp(App[None]):
    """Tiller's terminal UI."""

    CSS_PATH = "app.tcss"
    TITLE = "Tiller"
    COMMANDS = App.COMMANDS | {SlashCommandsProvider}

    def __init__(self, options: TuiOptions) -> None:
        super().__init__()
        self.options = options
        self.main = MainScreen()
        self.restore_warnings: list[str] = []
        """What resuming a session had to leave out (shown once the session is up)."""
        self._theme_at_start = options.theme
        """The theme the config gave (a change from it is remembered)."""
        if options.theme and options.theme in self.available_themes:
            self.theme = options.theme
        self._theme_at_start = self.theme
        self._control_filter = ControlFilter()
        self._early_keys: list[events.Key] | None = []
        if options.typed_ahead:
            from tiller.tui.typeahead import keys_of

            self._early_keys = keys_of(options.typed_ahead)
        """Keys typed before the prompt was there to take them (None once it is)."""

    def get_line_filters(self) -> Sequence[LineFilter]:
        """Textual's filters, then the one that keeps terminal controls off the screen."""
        return [*super().get_line_filters(), self._control_filter]

    def on_mount(self) -> None:
        if self.options.hangup_closes:
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGHUP, signal.SIGTERM):
                loop.add_signal_handler(signum, self.hang_up, signum)

    def hang_up(self, signum: int) -> None:
        """The terminal went away (or SIGTERM): close the sessions and exit, for sure."""
        from tiller.hangup import exit_after_grace

        exit_after_grace(signum)
        self.shutdown()

    def get_default_screen(self) -> Screen[Any]:
        return self.main

    def watch_theme(self, theme: str) -> None:
        """A theme picked in the app (palette: Theme) is the one the next start uses."""
        file = self.options.theme_file
        if file is None or theme == self._theme_at_start:
            return
        from tiller.settings import ConfigError, remember_theme

        try:
            remember_theme(theme, file)
        except ConfigError as exc:
            self.notify(f"Theme not remembered: {exc}", severity="warning", markup=False)
            return
        self._theme_at_start = theme

    async def on_event(self, event: events.Event) -> None:
        """Keys in the order typed, and printable ones to the prompt (DESIGN §7).

        Keys typed before the prompt exists wait for it; a printable key or a paste
        typed while a pane has the focus moves the focus back to the prompt and goes
        there, in order with the keys after it.
        """
        if isinstance(event, events.Key | events.Paste) and not event.is_forwarded:
            if self._early_keys is not None:
                if isinstance(event, events.Key):
                    self._early_keys.append(event)
                return
            if self.screen is self.main and self.main.belongs_in_prompt(event):
                prompt = self.main.prompt
                self.main.set_focus(prompt)
                prompt._forward_event(event)
                return
        await super().on_event(event)

    def prompt_ready(self) -> None:
        """The prompt has the focus: keys typed before now reach it, in order."""
        self.call_later(self._replay_early_keys)

    async def _replay_early_keys(self) -> None:
        early, self._early_keys = self._early_keys or [], None
        for key in early:
            await self.on_event(key)

    @property
    def model_name(self) -> str:
        """The model id the session will use (without importing the engine)."""
        from tiller.config import DEFAULT_MODEL

        client_model = getattr(self.options.client, "model", None)
        return self.options.model or client_model or os.environ.get("TILLER_MODEL") or DEFAULT_MODEL

    def make_session(
        self, workspace: Workspace | None = None, resume: str | None = None
    ) -> Session:
        """A new session on the options' root (or sharing `workspace`), or a saved one.

        New sessions are not journaled here: the controller journals one at its
        first prompt. A restored session keeps journaling to its file.
        """
        from tiller.session import Session

        o = self.options
        if resume is not None:
            from tiller.journal import restore_session

            overrides = {"model": o.model, "profile": o.profile, "skills_dirs": o.skills_dirs}
            overrides = {k: v for k, v in overrides.items() if v is not None}
            if o.client is not None:
                overrides["client"] = o.client
            if o.config is not None:
                overrides["config"] = o.config
            # A file change dropped on resume (it held a credential) must be shown.
            return restore_session(
                resume,
                journal=o.journal,
                max_turns=o.max_turns,
                on_warning=self.restore_warnings.append,
                **overrides,
                **o.llm_options,
            )
        where: dict[str, Any] = {"files": workspace} if workspace is not None else {"root": o.root}
        return Session(
            o.model or o.client,
            client=o.client if o.model else None,
            max_turns=o.max_turns,
            cwd=o.cwd,
            profile=o.profile,
            skills_dirs=o.skills_dirs,
            config=o.config,
            **where,
            **o.llm_options,
        )

    def after_start(self) -> None:
        """Once the session exists: load what its first model call needs in the background
        (litellm, or the lean client's modules and pool), while the person reads."""
        session = self.main.session
        if session is not None and session.transport != "litellm" and self.options.preload:
            # After the frame that shows the session ready: the warm-up's imports would
            # otherwise hold the interpreter while that frame is drawn.
            self.call_after_refresh(session.warm_up)
        if session is not None and session.transport == "litellm" and self.options.preload:
            from tiller.llm import preload_in_background

            loading = preload_in_background()

            def loaded() -> None:
                if not loading.is_alive():
                    timer.stop()
                    # litellm leaves ~10^6 long-lived objects; frozen, the collector stops
                    # rescanning them (a full pass stalled the screen ~300 ms mid-stream).
                    gc.freeze()

            timer = self.set_interval(0.25, loaded)

    # -- texts a person can act on --------------------------------------------------

    def welcome(self, session: Session) -> str:
        where = short_path(self.options.root) + (f" (cwd {session.cwd})" if session.cwd else "")
        return (
            f"[b]Tiller[/b] · {escape(session.model)} · workspace [b]{escape(visible(where))}[/b]\n"
            "Edits stay in memory until you flush them (Ctrl+S) or export a patch (Ctrl+X). "
            "F1 lists every key; / starts a command."
        )

    # -- quitting -------------------------------------------------------------------

    async def action_quit(self) -> None:
        """Ctrl+Q (and the palette's Quit) ask first when changes are unflushed."""
        self.request_quit()

    def request_quit(self) -> None:
        from tiller.tui.screens.confirm import ConfirmScreen

        chat = self.main.chat
        warning = chat.quit_warning() if chat is not None and chat.current is not None else None
        if warning is None:
            self.shutdown()
            return
        message = f"{warning}\nCtrl+S flushes them to disk now; Ctrl+X exports a patch."
        self.push_screen(
            ConfirmScreen("Quit with unflushed changes?", message, yes="Quit anyway"),
            callback=lambda yes: self.shutdown() if yes else None,
        )

    def shutdown(self) -> None:
        """Stop every run, close the sessions, exit."""
        for session in self.main.sessions.values():
            session.cancel()
            session.close()
        self.exit()
