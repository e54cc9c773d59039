"""Headless Chromium (Debian's package) driven over the Chrome DevTools Protocol.

The Dagster UI is a React app that fetches its data after load, so a fixed wait (`--dump-dom`
after a virtual-time budget) races it. Over CDP the test waits until what it looks for is
rendered, and one browser serves every page it loads.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Self

import httpx
from websockets.sync.client import ClientConnection, connect

from tests.plugins.webserver import stop_process_groups

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
START_TIMEOUT_S = 30.0
# Headless, and quiet on the network: nothing but the page under test is fetched.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--mute-audio",
)


class Chromium:
    """One headless browser with one page; `with Chromium(profile_dir) as browser: ...`."""

    def __init__(self, profile_dir: Path, window: tuple[int, int] = (1920, 1200)) -> None:
        self.profile_dir = profile_dir
        self.window = window
        self._ids = itertools.count(1)
        self._process: subprocess.Popen | None = None
        self._page: ClientConnection | None = None
        self._closing = contextlib.ExitStack()
        self.events: list[dict] = []
        """CDP events (e.g. `Network.requestWillBeSent`) of the domains a test enabled, in order."""

    def __enter__(self) -> Self:
        self.profile_dir.mkdir(parents=True, exist_ok=True)
        log = (self.profile_dir.parent / "chromium.log").open("wb")
        self._process = subprocess.Popen(
            [
                CHROMIUM,
                *FLAGS,
                f"--user-data-dir={self.profile_dir}",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
                f"--window-size={self.window[0]},{self.window[1]}",
                "about:blank",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()
        try:
            self._page = self._closing.enter_context(
                connect(self._page_websocket(), max_size=None, open_timeout=START_TIMEOUT_S)
            )
            self.call("Page.enable")
        except BaseException:
            self._stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop()

    def _page_websocket(self) -> str:
        """Chromium writes the port it bound (port 0) to DevToolsActivePort in the profile."""
        active_port = self.profile_dir / "DevToolsActivePort"
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(
                    f"chromium exited with {self._process.returncode}; see {self.profile_dir.parent}"
                )
            if active_port.exists() and active_port.read_text().strip():
                port = int(active_port.read_text().split()[0])
                targets = httpx.get(f"http://127.0.0.1:{port}/json/list", timeout=5.0).json()
                pages = [t for t in targets if t["type"] == "page"]
                if pages:
                    return pages[0]["webSocketDebuggerUrl"]
            time.sleep(0.1)
        raise RuntimeError(f"chromium did not open its DevTools port within {START_TIMEOUT_S:.0f} s")

    def _stop(self) -> None:
        self._closing.close()
        if self._process is not None:
            stop_process_groups([self._process], first=signal.SIGTERM)

    def call(self, method: str, params: dict | None = None, timeout: float = 30.0) -> dict:
        """One CDP command on the page; its result (events that arrive meanwhile go to `events`)."""
        message_id = next(self._ids)
        self._page.send(json.dumps({"id": message_id, "method": method, "params": params or {}}))
        deadline = time.monotonic() + timeout
        while True:
            message = json.loads(self._page.recv(timeout=max(0.1, deadline - time.monotonic())))
            if "method" in message:
                self.events.append(message)
            elif message.get("id") == message_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message["result"]

    def open(self, url: str) -> None:
        result = self.call("Page.navigate", {"url": url})
        if result.get("errorText"):
            raise RuntimeError(f"cannot load {url}: {result['errorText']}")

    def evaluate(self, expression: str):
        """The value of a JavaScript expression on the page (JSON-serializable)."""
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression[:60]}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for_event(self, method: str, timeout: float = 30.0) -> dict:
        """Wait until the page sends an event named `method` (kept in `events` too)."""
        deadline = time.monotonic() + timeout
        while True:
            found = next((e for e in self.events if e["method"] == method), None)
            if found is not None:
                return found
            message = json.loads(self._page.recv(timeout=max(0.1, deadline - time.monotonic())))
            if "method" in message:
                self.events.append(message)

    def full_page_screenshot(self, path: Path) -> Path:
        """The whole page, not just the window: the report is longer than a screen."""
        height = self.evaluate("Math.ceil(document.documentElement.scrollHeight)")
        width = self.evaluate("Math.ceil(document.documentElement.scrollWidth)")
        shot = self.call(
            "Page.captureScreenshot",
            {
                "format": "png",
                "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1},
            },
        )
        path.write_bytes(base64.b64decode(shot["data"]))
        return path

    def rendered_text(self) -> str:
        """The page's text as laid out (`innerText`: what is rendered, not what is hidden)."""
        result = self.call(
            "Runtime.evaluate",
            {"expression": "document.body ? document.body.innerText : ''", "returnByValue": True},
        )
        return result["result"].get("value", "")

    def wait_for_words(self, words: set[str], timeout: float = 60.0) -> set[str]:
        """Poll until every word is rendered as a whole word or the time is up; the words still missing.

        Whole words, so `sbom` is not found inside `sbom_present`.
        """
        deadline = time.monotonic() + timeout
        missing = set(words)
        while missing and time.monotonic() < deadline:
            time.sleep(0.5)
            rendered = set(re.findall(r"[\w./-]+", self.rendered_text()))
            missing = words - rendered
        return missing

    def screenshot(self, path: Path) -> Path:
        path.write_bytes(base64.b64decode(self.call("Page.captureScreenshot", {"format": "png"})["data"]))
        return path
