"""Headless Chromium driven through the DevTools protocol over a pipe (``--remote-debugging-pipe``:
no debugging port, no extra package), for pages whose scripts must be watched: every request a
page makes is recorded, scripts are evaluated in it, and the mouse clicks like a user's.

Any host name other than 127.0.0.1 resolves to nothing (``--host-resolver-rules``), so a request
leaving the machine fails, and the request log shows it was tried.
"""

from __future__ import annotations

import base64
import fcntl
import io
import json
import os
import select
import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from tests.support.clients import chromium_binary

TIMEOUT = 60.0  # seconds any one wait in a page may take before the test fails


class PageError(AssertionError):
    """A page did not do what the test waited for, or Chromium reported an error."""


def _above_four(fd: int) -> int:
    """The descriptor moved above 4, so redirecting the child's 3 and 4 cannot clobber it."""
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD, 10)
    os.close(fd)
    return moved


class Browser:
    """One headless Chromium with one page; use as a context manager."""

    def __init__(self, profile: Path, size: tuple[int, int] = (800, 600)) -> None:
        binary = chromium_binary()
        assert binary is not None
        self.size = size
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        to_child_r, from_child_w = _above_four(to_child_r), _above_four(from_child_w)
        # the pipe protocol reads commands on fd 3 and writes answers on fd 4: a shell puts them there
        redirect = f'exec "$@" 3<&{to_child_r} 4>&{from_child_w} {to_child_r}<&- {from_child_w}>&-'
        self.process = subprocess.Popen(
            ["/bin/bash", "-c", redirect, "bash", binary, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
             "--remote-debugging-pipe", f"--user-data-dir={profile}", f"--window-size={size[0]},{size[1]}",
             "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1", "--disable-background-networking",
             "--disable-component-update", "--disable-default-apps", "--disable-sync", "about:blank"],
            pass_fds=(to_child_r, from_child_w), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_child_r)
        os.close(from_child_w)
        self._out = os.fdopen(to_child_w, "wb", buffering=0)
        self._in = os.fdopen(from_child_r, "rb", buffering=0)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []
        self.requests: list[str] = []  # every URL the page asked for, in order
        self.console: list[str] = []  # console errors and exceptions
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Page", "Network", "Runtime", "Log"):
            self.call(f"{domain}.enable", session=True)
        self.call("Emulation.setDeviceMetricsOverride", session=True, width=size[0], height=size[1],
                  deviceScaleFactor=1, mobile=False)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        try:
            self.call("Browser.close")
        except (PageError, OSError):
            pass
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._out.close()
        self._in.close()

    # -- the protocol --------------------------------------------------------------------------

    def _read_message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            if not select.select([self._in], [], [], max(0.0, deadline - time.monotonic()))[0]:
                raise PageError("Chromium did not answer in time")
            chunk = self._in.read(1 << 16)
            if not chunk:
                raise PageError("Chromium closed its pipe")
            self._buffer += chunk
        message, _, self._buffer = self._buffer.partition(b"\0")
        return json.loads(message)

    def _record(self, event: dict[str, Any]) -> None:
        self.events.append(event)
        method, params = event.get("method"), event.get("params", {})
        if method == "Network.requestWillBeSent":
            self.requests.append(params["request"]["url"])
        elif method == "Runtime.exceptionThrown":
            self.console.append(json.dumps(params["exceptionDetails"])[:2000])
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            self.console.append(f"{params['entry'].get('source')}: {params['entry']['text']} {params['entry'].get('url', '')}")

    def call(self, method: str, session: bool = False, **params: Any) -> dict[str, Any]:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = self.session
        self._out.write(json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + TIMEOUT
        while True:
            answer = self._read_message(deadline)
            if answer.get("id") == self._next_id:
                if "error" in answer:
                    raise PageError(f"{method}: {answer['error']}")
                return answer.get("result", {})
            if "method" in answer:
                self._record(answer)

    def _pump(self, seconds: float) -> None:
        """Record the events that arrive within ``seconds`` (a harmless call keeps the pipe busy)."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.evaluate("1")
            time.sleep(0.05)

    # -- what tests use ------------------------------------------------------------------------

    def open(self, url: str) -> None:
        """Load the page afresh (by way of a blank page: a new hash alone would not reload it)."""
        self.call("Page.navigate", session=True, url="about:blank")
        self.wait_for("location.href === 'about:blank' && document.readyState === 'complete'")
        self.requests.clear()
        self.console.clear()
        self.call("Page.navigate", session=True, url=url)

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (awaited when it is a promise)."""
        result = self.call("Runtime.evaluate", session=True, expression=expression, returnByValue=True,
                           awaitPromise=True)
        if "exceptionDetails" in result:
            raise PageError(f"{expression[:80]}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = TIMEOUT) -> Any:
        """Wait until the expression is truthy in the page; its value."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                value = self.evaluate(expression)
            except PageError:
                value = None  # the page is still loading
            if value:
                return value
            if time.monotonic() > deadline:
                raise PageError(f"waited in vain for {expression!r}; console: {self.console[-5:]}")
            time.sleep(0.1)

    def click(self, x: float, y: float) -> None:
        for kind in ("mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", session=True, type=kind, x=x, y=y, button="left", clickCount=1)

    def move(self, x: float, y: float) -> None:
        self.call("Input.dispatchMouseEvent", session=True, type="mouseMoved", x=x, y=y)

    def screenshot(self) -> np.ndarray:
        """The page's pixels as an RGB array (height, width, 3)."""
        data = self.call("Page.captureScreenshot", session=True, format="png")["data"]
        return np.asarray(Image.open(io.BytesIO(base64.b64decode(data))).convert("RGB"))

    def settle(self, seconds: float = 0.3) -> None:
        self._pump(seconds)
