"""TUI test helpers: an app on a scripted model, and waiting for conditions (never sleeps)."""

from __future__ import annotations

import asyncio
import html
import re
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from textual.pilot import Pilot

from tiller.testing.scripted import ScriptedModel, Step
from tiller.tui.app import TillerApp, TuiOptions

FROZEN_NOW = 1_790_000_000.0  # a fixed clock for timestamps and export names
PROJECT_FILES = {
    "README.md": "# Demo\n\nA tiny project.\n",
    "src/calc.py": "def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n",
    "src/__init__.py": "",
    "tests/test_calc.py": "from src.calc import add\n\n\ndef test_add():\n    assert add(1, 2)\n",
}


def write_project(root: Path) -> Path:
    for path, content in PROJECT_FILES.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")
    return root


def make_app(root: Path, steps: Iterable[Step | str] = (), **options: object) -> TillerApp:
    """The app on a scripted model, with animations off and the clock frozen."""
    model = ScriptedModel(list(steps))
    settings: dict[str, object] = {"client": model, "animate": False, "clock": lambda: FROZEN_NOW}
    settings.update(options)
    return TillerApp(TuiOptions(root=root, **settings))  # type: ignore[arg-type]


def model_of(app: TillerApp) -> ScriptedModel:
    client = app.options.client
    assert isinstance(client, ScriptedModel)
    return client


async def until(pilot: Pilot, condition: Callable[[], object], timeout: float = 30.0) -> None:
    """Let the app run until `condition()` holds (fails after `timeout` seconds)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {condition}")
        await pilot.pause()


async def started(pilot: Pilot) -> TillerApp:
    """Wait for the session that is built after the first frame."""
    app = pilot.app
    assert isinstance(app, TillerApp)
    await until(pilot, lambda: app.main.session is not None)
    await pilot.pause()
    return app


async def reached(step: Step | threading.Event, timeout: float = 30.0) -> None:
    """Wait (off the event loop) until the scripted model is inside `step`."""
    event = step.reached if isinstance(step, Step) else step
    assert await asyncio.to_thread(event.wait, timeout), "the model never reached the step"


async def settle(pilot: Pilot) -> None:
    """Wait for the engine worker to finish and the UI to process what it posted."""
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.pause()


async def type_text(pilot: Pilot, text: str) -> None:
    await pilot.press(*["space" if ch == " " else ch for ch in text])


_SVG_TEXT = re.compile(r'<text class="[^"]*" x="([\d.]+)" y="([\d.]+)"[^>]*>(.*?)</text>')


def screen_text(app: TillerApp) -> str:
    """What a person sees: the current screen as plain text, row by row."""
    rows: dict[float, list[tuple[float, str]]] = {}
    for match in _SVG_TEXT.finditer(app.export_screenshot()):
        x, y = float(match.group(1)), float(match.group(2))
        rows.setdefault(y, []).append((x, html.unescape(match.group(3))))
    lines = []
    for y in sorted(rows):
        line = ""
        for x, text in sorted(rows[y]):
            column = round(x / 12.2)
            line = line.ljust(column) + text
        lines.append(line.replace("\xa0", " ").rstrip())
    return "\n".join(lines)


def notices(app: TillerApp) -> list[str]:
    """The text of every notice Tiller put in the conversation."""
    from tiller.tui.conversation import Notice

    return [str(n.render()) for n in app.main.conversation.query(Notice)]


async def send(pilot: Pilot, text: str) -> None:
    """Type `text` into the prompt and press Enter."""
    await pilot.press(*text, "enter")
