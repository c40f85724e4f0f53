"""Drive headless Chromium over the DevTools protocol on a pipe (no websocket package needed).

``--remote-debugging-pipe`` makes Chromium read commands on fd 3 and write replies and
events on fd 4, each a JSON text ending in a NUL byte. Networking is off: a dead proxy
and a host resolver that resolves nothing, so any fetch shows up as a failed request.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from melious_impact.reporting.pdf import CHROMIUM_NAMES, offline_flags


def find_chromium() -> str | None:
    for name in (os.environ.get("MELIOUS_IMPACT_CHROMIUM"), "/usr/bin/chromium", *CHROMIUM_NAMES):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


def _high(*fds: int) -> tuple[int, ...]:
    """Move fds above 9 so the child's dup2 onto 3 and 4 never meets one of them."""
    out = []
    for fd in fds:
        out.append(fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10))
        os.close(fd)
    return tuple(out)


@dataclass
class PageResult:
    charts: int
    rendered: int
    with_graphics: int
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    title: str = ""


class Browser:
    def __init__(self, exe: str) -> None:
        self._profile = tempfile.TemporaryDirectory(prefix="mi-cdp-")
        to_chrome_r, self._to_chrome = _high(*os.pipe())
        self._from_chrome, from_chrome_w = _high(*os.pipe())

        def wire_fds() -> None:  # runs in the child: its fd 3 reads our commands, fd 4 writes replies
            os.dup2(to_chrome_r, 3)
            os.dup2(from_chrome_w, 4)

        self.proc = subprocess.Popen(
            [exe, *offline_flags(self._profile.name), "--remote-debugging-pipe", "about:blank"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=wire_fds,  # places the pipe on fds 3 and 4, which Chromium expects
            # close_fds would run after preexec_fn and close fds 3 and 4 again.
            close_fds=False,
        )
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._buf = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []

    def close(self) -> None:
        with contextlib.suppress(Exception):  # already gone
            self.send("Browser.close", timeout=5)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for fd in (self._to_chrome, self._from_chrome):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._profile.cleanup()

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _read_message(self, deadline: float) -> dict[str, Any] | None:
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([self._from_chrome], [], [], left)
            if not ready:
                return None
            chunk = os.read(self._from_chrome, 1 << 20)
            if not chunk:
                raise RuntimeError("Chromium closed the DevTools pipe")
            self._buf += chunk
        raw, self._buf = self._buf.split(b"\0", 1)
        return json.loads(raw)  # type: ignore[no-any-return]

    def send(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        *,
        session: str | None = None,
        timeout: float = 30,
    ) -> dict[str, Any]:
        self._next_id += 1
        msg: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._to_chrome, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read_message(deadline)
            if reply is None:
                raise TimeoutError(f"no reply to {method}")
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})  # type: ignore[no-any-return]
            self.events.append(reply)

    def pump(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while (msg := self._read_message(deadline)) is not None:
            self.events.append(msg)

    def open_page(self, path: Path, *, timeout: float = 60) -> PageResult:
        """Load a local file, wait until every chart settled, and report what happened."""
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Runtime", "Log", "Network", "Page"):
            self.send(f"{domain}.enable", session=session)
        self.events.clear()
        self.send("Page.navigate", {"url": path.resolve().as_uri()}, session=session)
        deadline = time.monotonic() + timeout
        state: dict[str, Any] = {}
        js = (
            "(() => { const f = [...document.querySelectorAll('figure.chart')];"
            " return JSON.stringify({charts: f.length,"
            " rendered: f.filter(e => e.getAttribute('data-rendered')).length,"
            " graphics: f.filter(e => e.querySelector('svg, canvas')).length,"
            " ready: document.readyState, title: document.title}); })()"
        )
        while time.monotonic() < deadline:
            self.pump(0.2)
            res = self.send("Runtime.evaluate", {"expression": js, "returnByValue": True}, session=session)
            state = json.loads(res["result"]["value"])
            static = "<script" not in path.read_text(encoding="utf-8")
            if state["ready"] == "complete" and (static or state["rendered"] == state["charts"]):
                break
        self.pump(0.5)
        result = PageResult(
            state.get("charts", 0),
            state.get("rendered", 0),
            state.get("graphics", 0),
            title=state.get("title", ""),
        )
        for ev in self.events:
            if ev.get("sessionId") != session:
                continue
            method, params = ev.get("method"), ev.get("params", {})
            if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                result.errors.append(
                    "console: " + " ".join(str(a.get("value", a.get("description"))) for a in params["args"])
                )
            elif method == "Runtime.exceptionThrown":
                result.errors.append("exception: " + json.dumps(params.get("exceptionDetails", {}))[:500])
            elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
                result.errors.append("log: " + params["entry"].get("text", ""))
            elif method == "Network.requestWillBeSent":
                result.requests.append(params["request"]["url"])
        self.send("Target.closeTarget", {"targetId": target})
        return result
