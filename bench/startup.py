"""Start-up and input latency of the TUI, measured on the real `tiller` binary in a pty.

    python bench/startup.py [--runs 7]

Prints one JSON line:
- `version_s`: `tiller --version` wall time, median (target <= 0.3 s);
- `first_frame_s`: process start to the first painted frame, median (target <= 0.6 s);
- `keystroke_ms`: keystroke-to-screen latency while an answer streams at about
  1,000 tokens/s from the local fake server, median and p95 (target <= 50 ms);
- `first_reply_s`: on the default path (`openai/` model, transport auto: the lean
  client), from Enter to the first character of the local server's reply on
  screen, the first frame having been up for 2 s, median (target <= 0.3 s).
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import pty
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from pathlib import Path

from isolation import isolated_dirs

TILLER = str(Path(sys.executable).parent / "tiller")
FIRST_FRAME_MARK = b"unflushed"  # the status bar, drawn in the first frame
READY_MARK = b"idle"  # the status bar once the session is built and the tree loaded
TYPED = "QZXWVQZXWVQZXWVQZXWVQZXWVQZXWV"  # letters no escape sequence ends with
STREAM_END = "STREAM-FINISHED"


class PtyProcess:
    """A process on a pseudo-terminal of a fixed size, its output recorded with times."""

    def __init__(self, argv: list[str], cwd: Path, env: dict[str, str], size=(40, 140)) -> None:
        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", size[0], size[1], 0, 0))
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            argv, cwd=cwd, env=env, stdin=slave, stdout=slave, stderr=slave, start_new_session=True
        )
        os.close(slave)
        self.output = bytearray()
        self.lock = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        while True:
            try:
                data = os.read(self.master, 1 << 16)
            except OSError:
                return
            if not data:
                return
            with self.lock:
                self.output += data
                self.lock.notify_all()

    def wait_for(self, mark: bytes, start: int = 0, timeout: float = 30.0) -> tuple[float, int]:
        """Block until `mark` appears after offset `start`; (time it arrived, its end offset)."""
        deadline = time.perf_counter() + timeout
        with self.lock:
            while True:
                found = self.output.find(mark, start)
                if found >= 0:
                    return time.perf_counter(), found + len(mark)
                remaining = deadline - time.perf_counter()
                if remaining <= 0:
                    raise TimeoutError(f"never saw {mark!r}")
                self.lock.wait(remaining)

    @property
    def offset(self) -> int:
        with self.lock:
            return len(self.output)

    def write(self, data: bytes) -> None:
        os.write(self.master, data)

    def stop(self) -> None:
        self.process.kill()
        self.process.wait()
        os.close(self.master)


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    env.update(TERM="xterm-256color", OPENAI_API_KEY="sk-bench", **extra)
    return env


def make_project() -> Path:
    root = Path(tempfile.mkdtemp(prefix="tiller-bench-"))
    for index in range(20):
        (root / f"module_{index}.py").write_text(f"VALUE = {index}\n")
    return root


def bench_version(runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([TILLER, "--version"], check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def bench_first_frame(runs: int, root: Path) -> tuple[float, float]:
    """Median seconds to the first frame, and to the session being ready."""
    first, ready = [], []
    for _ in range(runs):
        app = PtyProcess([TILLER, "--model", "openai/fake-model"], root, clean_env())
        try:
            seen, _ = app.wait_for(FIRST_FRAME_MARK)
            first.append(seen - app.started)
            seen, _ = app.wait_for(READY_MARK)
            ready.append(seen - app.started)
        finally:
            app.stop()
    return statistics.median(first), statistics.median(ready)


def start_server(script: dict, directory: Path) -> tuple[subprocess.Popen[str], str]:
    path = directory / "script.json"
    path.write_text(json.dumps(script))
    server = subprocess.Popen(
        [sys.executable, "-m", "tiller.testing.server", "--script", str(path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None
    ready = server.stdout.readline().split()
    return server, ready[1]


def bench_keystrokes(root: Path, tokens: int = 8000) -> dict[str, float]:
    """Type into the prompt while an answer streams; time each key until it is drawn."""
    # Paragraphs of ~60 words (a word + space ~ 2 tokens), as a model writes them.
    paragraphs = [
        " ".join(f"word{(p * 31 + w) % 97}" for w in range(60)) for p in range(tokens // 120)
    ]
    text = "\n\n".join(paragraphs) + f"\n\n{STREAM_END}\n"
    # litellm spends ~1.8 ms of CPU per chunk, so 8-character chunks (~2 tokens) every
    # 2 ms come close to 1,000 tokens/s end to end.
    script = {"replies": [{"text": text, "chunk_size": 8, "chunk_delay": 0.002}]}
    server, base_url = start_server(script, root)
    app = PtyProcess(
        [TILLER, "--model", "openai/fake-model", "--api-base", base_url], root, clean_env()
    )
    try:
        app.wait_for(READY_MARK)
        app.write(b"go\r")
        stream_started, offset = app.wait_for(b"word0", timeout=30)
        latencies = []
        for count in range(1, len(TYPED) + 1):
            started = time.perf_counter()
            app.write(TYPED[count - 1].encode())
            if count >= 3:  # a prefix of 3+ letters cannot be part of the stream or a sequence
                seen, offset = app.wait_for(TYPED[:count].encode(), offset)
                latencies.append((seen - started) * 1000)
            else:
                app.wait_for(TYPED[:count].encode(), offset)
            time.sleep(0.03)  # a person types about 30 keys a second at most
        stream_ended, _ = app.wait_for(STREAM_END.encode(), timeout=60)
        rate = (len(text) / 4) / (stream_ended - stream_started)
        order = [round(x) for x in latencies]
        latencies.sort()
        return {
            "keystroke_ms_median": round(statistics.median(latencies), 1),
            "keystroke_ms_p95": round(latencies[int(0.95 * (len(latencies) - 1))], 1),
            "keystroke_ms_max": round(latencies[-1], 1),
            "stream_tokens_per_s": round(rate),
            "typed_during_stream": stream_ended > started,
            "in_order_ms": order,
        }
    finally:
        app.stop()
        server.terminate()
        server.wait()


REPLY_MARK = "ZQXJREPLY"  # a word no screen draws unless the reply arrived


def bench_first_reply(runs: int, root: Path) -> float:
    """Median seconds from Enter to the reply's first characters on screen."""
    times = []
    for _ in range(runs):
        script = {"replies": [{"text": f"{REPLY_MARK} done", "chunk_size": 64}]}
        server, base_url = start_server(script, root)
        argv = [TILLER, "--model", "openai/fake-model", "--api-base", base_url]
        app = PtyProcess(argv, root, clean_env())
        try:
            app.wait_for(FIRST_FRAME_MARK)
            app.wait_for(READY_MARK)
            time.sleep(2.0)  # the person reads the first frame before typing
            app.write(b"hi")
            _, offset = app.wait_for(b"hi", app.offset - 2 if app.offset >= 2 else 0)
            started = time.perf_counter()
            app.write(b"\r")
            seen, _ = app.wait_for(REPLY_MARK.encode(), offset)
            times.append(seen - started)
        finally:
            app.stop()
            server.terminate()
            server.wait()
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    root = make_project()
    try:
        first_frame, ready = bench_first_frame(args.runs, root)
        result = {
            "version_s": round(bench_version(args.runs), 3),
            "first_frame_s": round(first_frame, 3),
            "session_ready_s": round(ready, 3),
            **bench_keystrokes(root),
            "first_reply_s": round(bench_first_reply(args.runs, root), 3),
            "targets": {
                "version_s": 0.3,
                "first_frame_s": 0.6,
                "keystroke_ms": 50,
                "first_reply_s": 0.3,
            },
        }
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(json.dumps(result))


def bench_review(runs: int = 7, files: int = 200) -> dict[str, object]:
    """F4 to review mode drawn, over `files` changed files (in-process, headless Textual).

    The workspace holds modified, added and deleted files (added and deleted ones
    of similar sizes, so rename detection has pairs to score); the time runs from
    the key press to the first file's diff mounted and painted. Target <= 300 ms
    (median wall time). A file is added between opens, so each one re-reads and
    redraws everything; the first open also builds the screen (later ones reuse
    it), so it is reported on its own. CPU time shows how much of the wall time
    a loaded machine adds.
    """
    import asyncio

    from tiller.testing.scripted import ScriptedModel
    from tiller.tui.app import TillerApp, TuiOptions
    from tiller.tui.screens.review import ReviewScreen
    from tiller.tui.screens.review_diff import ReviewDiff

    root = Path(tempfile.mkdtemp(prefix="tiller-bench-review-"))
    body = "".join(f"    value_{n} = compute({n}, factor={n * 3})\n" for n in range(100))
    modified, added, deleted = files * 3 // 4, files // 8, files - files * 3 // 4 - files // 8
    for n in range(modified + deleted):
        (root / f"pkg{n % 10}").mkdir(exist_ok=True)
        (root / f"pkg{n % 10}" / f"module_{n}.py").write_text(f"def f_{n}():\n{body}")
    times: list[float] = []
    cpu: list[float] = []

    async def run() -> None:
        options = TuiOptions(root=root, client=ScriptedModel([]), animate=False)
        app = TillerApp(options)
        async with app.run_test(size=(160, 45)) as pilot:
            while app.main.session is None:
                await pilot.pause()
            workspace = app.main.session.workspace
            for n in range(modified):
                path = f"pkg{n % 10}/module_{n}.py"
                workspace.write(path, workspace.read(path).replace("factor=3", "factor=4"))
            for n in range(modified, modified + deleted):
                workspace.delete(f"pkg{n % 10}/module_{n}.py")
            for n in range(added):
                workspace.write(f"new/added_{n}.py", f"def g_{n}():\n{body[: len(body) // 2]}")
            app.main.refresh_sidebar()
            await pilot.pause()
            for _ in range(runs):
                started, started_cpu = time.perf_counter(), time.process_time()
                await pilot.press("f4")
                while (
                    not isinstance(app.screen, ReviewScreen)
                    or not app.screen.query_one(ReviewDiff).children
                ):
                    await pilot.pause()
                await pilot.pause()  # the frame with the diff painted
                times.append(time.perf_counter() - started)
                cpu.append(time.process_time() - started_cpu)
                await pilot.press("escape")
                while isinstance(app.screen, ReviewScreen):
                    await pilot.pause()
                # One more change before the next open: the list must be rebuilt, not reused.
                workspace.write(f"new/later_{len(times)}.py", "x = 1\n")
                await pilot.pause()

    try:
        asyncio.run(run())
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return {
        "review_open_ms": round(statistics.median(times) * 1000, 1),
        "review_open_cpu_ms": round(statistics.median(cpu) * 1000, 1),
        "review_first_open_ms": round(times[0] * 1000, 1),
        "review_files": files,
        "targets": {"review_open_ms": 300},
    }


if __name__ == "__main__":
    with isolated_dirs("startup"):
        main()
        print(json.dumps(bench_review()))
