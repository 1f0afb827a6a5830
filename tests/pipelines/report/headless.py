"""Headless Chromium driven over the DevTools protocol on a pipe: load a page, collect console errors,
take a full-page screenshot. Installs Debian's chromium when it is missing and we are root."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

CHROMIUM_PACKAGES = ("chromium", "chromium-driver")


def find_or_install_chromium() -> tuple[str | None, str]:
    """(path of the chromium binary or None, why it is missing)."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found, ""
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return None, "chromium is not installed and cannot be (not root or no apt-get): apt-get install chromium"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", *CHROMIUM_PACKAGES]
    done = subprocess.run(install, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True)
        done = subprocess.run(install, env=env, capture_output=True, text=True)
    found = shutil.which("chromium")
    return found, "" if found else f"apt-get install chromium failed: {done.stderr.strip()[-300:]}"


@dataclass
class PageLoad:
    """What loading one page produced: console errors and exceptions, the page size, the screenshot."""

    errors: list[str] = field(default_factory=list)
    width: int = 0
    height: int = 0
    screenshot: Path | None = None


class Chromium:
    """One headless browser process; commands and events travel as NUL-separated JSON on fds 3 and 4."""

    def __init__(self, binary: str, width: int = 1280):
        self.width, self.next_id, self.events = width, 0, []
        self.profile = tempfile.mkdtemp(prefix="prodlike-chromium-")
        to_child_r, self.to_child = os.pipe()
        self.from_child, from_child_w = os.pipe()

        def wire_fds() -> None:  # runs in the child before exec: fd 3 reads commands, fd 4 writes answers
            read, write = os.dup(to_child_r), os.dup(from_child_w)
            os.dup2(read, 3)
            os.dup2(write, 4)

        self.proc = subprocess.Popen(
            [binary, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
             "--disable-background-networking", "--hide-scrollbars", "--remote-debugging-pipe",
             f"--user-data-dir={self.profile}", f"--window-size={width},900", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            preexec_fn=wire_fds, pass_fds=(3, 4))
        os.close(to_child_r)
        os.close(from_child_w)
        self.buffer = b""
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.call(f"{domain}.enable", session=True)

    def _read_message(self, deadline: float) -> dict:
        while b"\0" not in self.buffer:
            if time.monotonic() > deadline:
                raise TimeoutError("chromium did not answer in time")
            chunk = os.read(self.from_child, 1 << 16)
            if not chunk:
                raise RuntimeError("chromium closed the DevTools pipe")
            self.buffer += chunk
        raw, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(raw)

    def call(self, method: str, session: bool = False, timeout: float = 60, **params) -> dict:
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = self.session
        os.write(self.to_child, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str, timeout: float = 60) -> dict:
        deadline = time.monotonic() + timeout
        for i, event in enumerate(self.events):
            if event.get("method") == method:
                return self.events.pop(i)
        while True:
            event = self._read_message(deadline)
            if event.get("method") == method:
                return event
            self.events.append(event)

    def console_errors(self) -> list[str]:
        """Console errors and warnings, uncaught exceptions and failed loads seen so far."""
        out = []
        for e in self.events:
            p = e.get("params", {})
            if e.get("method") == "Runtime.consoleAPICalled" and p.get("type") in ("error", "warning", "assert"):
                out.append(f"console.{p['type']}: " + " ".join(str(a.get("value", a.get("description")))
                                                               for a in p.get("args", [])))
            elif e.get("method") == "Runtime.exceptionThrown":
                out.append("exception: " + str(p.get("exceptionDetails", {}).get("text")))
            elif e.get("method") == "Log.entryAdded" and p.get("entry", {}).get("level") in ("error", "warning"):
                out.append(f"log {p['entry'].get('source')}: {p['entry'].get('text')}")
        return out

    def load(self, url: str, screenshot: Path | None = None, max_height: int = 12000,
             settle_text: str | None = None, settle_timeout: float = 180) -> PageLoad:
        """Navigate to url, wait for the load event (and, for a page that renders with script, until its text
        shows settle_text), and take a full-page screenshot."""
        self.events.clear()
        self.call("Page.navigate", session=True, url=url)
        self.wait_for("Page.loadEventFired")
        if settle_text is not None:
            self.wait_for_text(settle_text, settle_timeout)
        time.sleep(0.3)  # late console messages
        metrics = self.call("Page.getLayoutMetrics", session=True)
        size = metrics.get("cssContentSize") or metrics["contentSize"]
        result = PageLoad(width=int(size["width"]), height=int(size["height"]))
        if screenshot is not None:
            result.screenshot = self.screenshot(screenshot, min(result.height, max_height))
        self.call("Runtime.evaluate", session=True, expression="0")  # flush pending events
        result.errors = self.console_errors()
        return result

    def screenshot(self, path: Path, height: int) -> Path:
        """A PNG of the page at the browser's width and this height."""
        self.call("Emulation.setDeviceMetricsOverride", session=True, width=self.width, height=height,
                  deviceScaleFactor=1, mobile=False)
        shot = self.call("Page.captureScreenshot", session=True, format="png")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(shot["data"]))
        return path

    def evaluate(self, expression: str):
        """The value of a JavaScript expression in the page."""
        return self.call("Runtime.evaluate", session=True, expression=expression,
                         returnByValue=True).get("result", {}).get("value")

    def wait_for_text(self, text: str, timeout: float) -> None:
        """Poll the page until its visible text contains text (a condition, not a duration)."""
        deadline = time.monotonic() + timeout
        probe = f"document.body !== null && document.body.innerText.includes({json.dumps(text)})"
        while time.monotonic() < deadline:
            found = self.call("Runtime.evaluate", session=True, expression=probe, returnByValue=True)
            if found.get("result", {}).get("value") is True:
                return
            time.sleep(0.5)
        raise TimeoutError(f"the page never showed {text!r}")

    def close(self) -> None:
        try:
            self.call("Browser.close", timeout=10)
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for fd in (self.to_child, self.from_child):
            try:
                os.close(fd)
            except OSError:
                pass
        shutil.rmtree(self.profile, ignore_errors=True)
