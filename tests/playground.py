"""End-to-end helpers: the real bot over HTTP, a real SMTP server, the Microsoft 365 Agents
Playground (npm @microsoft/m365agentsplayground) and Debian's Chromium driven by Playwright.

Used by tests/test_e2e_playground.py. Nothing here skips: a missing browser or Playground is a
failure that says how to install them (`make browser-deps`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from bot.app import create_app
from bot.settings import REPO_ROOT, Settings

CHROMIUM = Path("/usr/bin/chromium")
PLAYGROUND = REPO_ROOT / "node_modules" / ".bin" / "agentsplayground"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
INSTALL_HINT = "run `make browser-deps`"


def require_browser_deps() -> None:
    """Fail (never skip) when the browser test cannot run on this machine."""
    missing = []
    if not CHROMIUM.exists():
        missing.append(f"Chromium ({CHROMIUM})")
    if not PLAYGROUND.exists():
        missing.append(f"the Agents Playground ({PLAYGROUND})")
    if missing:
        pytest.fail(f"Missing {' and '.join(missing)}: {INSTALL_HINT}", pytrace=False)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- mail ------------------------------------------------------------------------------------


class MailSink:
    """A real SMTP server (aiosmtpd, in its own thread) that keeps every message it gets."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.messages: list[tuple[list[str], EmailMessage]] = []
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        mail = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(mail, EmailMessage)
        self.messages.append((list(envelope.rcpt_tos), mail))
        return "250 OK"

    def start(self) -> None:
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()

    async def wait_for(self, to: str, timeout: float = 10.0) -> EmailMessage:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for rcpts, mail in self.messages:
                if to in rcpts:
                    return mail
            await asyncio.sleep(0.1)
        got = [(r, m["Subject"]) for r, m in self.messages]
        raise AssertionError(f"no email to {to} within {timeout} s; got {got}")


def plain_text(mail: EmailMessage) -> str:
    body = mail.get_body(("plain",))
    assert body is not None, "the email has no text/plain part"
    return str(body.get_content())  # type: ignore[attr-defined]


# --- the bot ---------------------------------------------------------------------------------


@dataclass
class BotServer:
    """The real app (create_app) served over HTTP on a fixed port; can be stopped and
    started again on the same port and database, like a redeploy."""

    settings: Settings
    port: int = field(default_factory=free_port)
    runner: web.AppRunner | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/messages"

    async def start(self) -> None:
        assert self.runner is None
        runner = web.AppRunner(create_app(self.settings))
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", self.port).start()
        self.runner = runner

    async def stop(self) -> None:
        if self.runner is not None:
            runner, self.runner = self.runner, None
            await runner.cleanup()


# --- the Playground --------------------------------------------------------------------------


@dataclass
class PlaygroundServer:
    """`agentsplayground start` in its own process group, pointed at the bot."""

    process: asyncio.subprocess.Process
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://localhost:{self.port}/"

    @classmethod
    async def start(
        cls, *, endpoint: str, channel: str, workdir: Path, timeout: float = 30.0
    ) -> PlaygroundServer:
        workdir.mkdir(parents=True, exist_ok=True)
        out = workdir / "playground.out"
        env = {
            **os.environ,
            "TEAMSAPPTESTER_BROWSER": "none",
            "M365_AGENTS_PLAYGROUND_LOGFILE": str(workdir / "playground.log"),
        }
        cmd = [str(PLAYGROUND), "start", "-e", endpoint, "-c", channel, "--dt"]
        cmd += ["-p", str(free_port())]
        with out.open("wb") as sink:
            proc = await asyncio.create_subprocess_exec(
                *cmd,
                cwd=workdir,
                env=env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=sink,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,  # its own process group, so that stop() gets it all
            )
        server = cls(proc, 0, out)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            # It silently takes another port when the one asked for is taken: read the real one.
            found = re.search(r"Listening on (\d+)", out.read_text(errors="replace"))
            if found:
                server.port = int(found.group(1))
                return server
            if proc.returncode is not None:
                break
            await asyncio.sleep(0.05)
        text = out.read_text(errors="replace")
        await server.stop()
        raise AssertionError(f"the Agents Playground did not start ({cmd}):\n{text[-2000:]}")

    async def stop(self) -> None:
        if self.process.returncode is not None:
            return
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, sig)
            try:
                await asyncio.wait_for(self.process.wait(), timeout=5)
                return
            except TimeoutError:
                continue


# --- the page --------------------------------------------------------------------------------

TEAMS = {
    "input": '[data-lexical-editor="true"][role="textbox"]',
    "bot": ".fai-OutputCard",
}
WEBCHAT = {
    "input": 'input[data-id="webchat-sendbox-input"]',
    "bot": ".webchat__bubble:not(.webchat__bubble--from-user) .webchat__bubble__content",
    "suggested": '[role="toolbar"][aria-label="Suggested actions"] '
    "button.webchat__suggested-action",
}
CARD = ".ac-adaptiveCard"


class Playground:
    """A young person using the Playground's chat UI: types, taps, and reads the bot's replies.

    Every action waits for what the bot should say next (fragments of its wording), by polling
    the messages that arrived after the action: no fixed sleeps.
    """

    def __init__(self, page: Any, channel: str) -> None:
        self.page = page
        self.channel = channel
        self.sel = TEAMS if channel == "msteams" else WEBCHAT
        self.transcript: list[str] = []  # what the bot said after each action, in order

    @property
    def bot_messages(self) -> Any:
        return self.page.locator(self.sel["bot"])

    async def open(self, url: str, *, expect: Sequence[str], timeout: float = 30.0) -> str:
        await self.page.goto(url)
        await self.page.locator(self.sel["input"]).first.wait_for(timeout=timeout * 1000)
        # The page load itself starts the conversation; the bot must answer before we type.
        return await self.wait_for(expect, after=0, timeout=timeout)

    async def texts(self) -> list[str]:
        # Web Chat typesets apostrophes (’) even in plain text; compare with the content's '.
        return [t.strip().replace("\u2019", "'") for t in await self.bot_messages.all_inner_texts()]

    async def wait_for(self, fragments: Sequence[str], *, after: int, timeout: float = 15.0) -> str:
        """Waits until the bot messages after index `after` contain every fragment; returns
        their text."""
        deadline = time.monotonic() + timeout
        while True:
            new = "\n".join((await self.texts())[after:])
            if all(f in new for f in fragments):
                self.transcript.append(new)
                return new
            if time.monotonic() > deadline:
                missing = [f for f in fragments if f not in new]
                raise AssertionError(
                    f"the bot did not say {missing!r} within {timeout} s; it said:\n{new[-1500:]}"
                )
            await self.page.wait_for_timeout(50)

    async def screenshot(self, path: Path) -> None:
        """The screen with the bot's last message in view."""
        await self.bot_messages.last.scroll_into_view_if_needed()
        await self.page.screenshot(path=str(path))

    async def number_shown_for(self, words: str) -> int:
        """The number the child sees beside `words` in the last numbered list that has them.
        Web Chat renders "1. ..." lines as a Markdown list, whose numbers are not in the text."""
        bubble = self.bot_messages.filter(has_text=words).last
        shown = await bubble.evaluate(
            """(el, words) => {
                for (const ol of el.querySelectorAll('ol')) {
                    const items = [...ol.children].filter(li => li.tagName === 'LI');
                    const i = items.findIndex(li => li.textContent.includes(words));
                    if (i >= 0) return (ol.start || 1) + i;
                }
                return null;
            }""",
            words,
        )
        if shown is not None:
            return int(shown)
        text = await bubble.inner_text()
        for mark in ("\u2067", "\u2069"):  # the isolates of right-to-left lines
            text = text.replace(mark, "")
        found = re.search(rf"(?m)(\d+)\.[^\n→←]*\s*[→←] {re.escape(words)}", text)
        assert found, f"no number beside {words!r} in:\n{text}"
        return int(found.group(1))

    async def _then(self, action: Any, expect: Sequence[str] | str, timeout: float = 15.0) -> str:
        frags = [expect] if isinstance(expect, str) else list(expect)
        n = await self.bot_messages.count()
        await action()
        return await self.wait_for(frags, after=n, timeout=timeout)

    # --- what the child does -----------------------------------------------------------------

    async def type(self, text: str, *, expect: Sequence[str] | str) -> str:
        async def send() -> None:
            box = self.page.locator(self.sel["input"]).first
            await box.click()
            await box.fill(text)
            await box.press("Enter")

        return await self._then(send, expect)

    async def tap_suggested(
        self, label: str, *, expect: Sequence[str] | str, timeout: float = 15.0
    ) -> str:
        """Web Chat: taps a suggested-action button under the last message."""
        button = self.page.locator(self.sel["suggested"]).filter(
            has_text=re.compile(rf"^\s*{re.escape(label)}\s*$")
        )
        return await self._then(lambda: button.last.click(), expect, timeout)

    async def lines_of(self, words: str) -> list[str]:
        """The lines of the last bot message with `words` in it, as the page lays them out
        (bidi isolates and blank lines dropped)."""
        text = await self.bot_messages.filter(has_text=words).last.inner_text()
        for mark in ("\u2067", "\u2069", "\u200b"):  # bidi isolates; around links (Web Chat)
            text = text.replace(mark, "")
        text = text.replace("\u2019", "'")
        return [line.strip() for line in text.split("\n") if line.strip()]

    async def right_edges(self, words: str, parts: Sequence[str]) -> list[float]:
        """Where each of `parts` ends on screen (its right edge, in pixels) in the last bot
        message with `words` in it: in a right-to-left line the first word read is rightmost."""
        bubble = self.bot_messages.filter(has_text=words).last
        edges = await bubble.evaluate(
            """(el, parts) => parts.map(part => {
                const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
                for (let node = walker.nextNode(); node; node = walker.nextNode()) {
                    const i = node.data.indexOf(part);
                    if (i < 0) continue;
                    const range = document.createRange();
                    range.setStart(node, i);
                    range.setEnd(node, i + part.length);
                    return range.getBoundingClientRect().right;
                }
                return null;
            })""",
            list(parts),
        )
        missing = [p for p, e in zip(parts, edges, strict=True) if e is None]
        assert not missing, f"not on screen: {missing}"
        return [float(e) for e in edges]

    async def right_edges_within(self, line: str, parts: Sequence[str]) -> list[float]:
        """Like right_edges, but each part is looked for inside `line` (one line of the last
        bot message holding it), so parts that occur on other lines too are told apart."""
        bubble = self.bot_messages.filter(has_text=line).last
        edges = await bubble.evaluate(
            """(el, [line, parts]) => {
                const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
                for (let node = walker.nextNode(); node; node = walker.nextNode()) {
                    const at = node.data.indexOf(line);
                    if (at < 0) continue;
                    return parts.map(part => {
                        const i = node.data.indexOf(part, at);
                        if (i < 0 || i + part.length > at + line.length) return null;
                        const range = document.createRange();
                        range.setStart(node, i);
                        range.setEnd(node, i + part.length);
                        return range.getBoundingClientRect().right;
                    });
                }
                return parts.map(() => null);
            }""",
            [line, list(parts)],
        )
        missing = [p for p, e in zip(parts, edges, strict=True) if e is None]
        assert not missing, f"not on screen in {line!r}: {missing}"
        return [float(e) for e in edges]

    def last_card(self) -> Any:
        return self.page.locator(CARD).last

    async def choice_labels(self) -> list[str]:
        """The options of the last card as the child sees them, in order (list numbers that
        CSS draws are not in the text, so a Markdown list shows here as a missing number)."""
        labels = await self.last_card().evaluate(
            """card => [...card.querySelectorAll('input[type=checkbox], input[type=radio]')]
                .map(i => ((i.labels && i.labels[0]) || i.parentElement).innerText.trim())"""
        )
        return [str(label).replace("\u00a0", " ") for label in labels]

    async def ticks_on_the_right(self) -> bool:
        """Every tick box of the last card is to the right of its label, as a right-to-left
        reader expects."""
        return bool(
            await self.last_card().evaluate(
                """card => [...card.querySelectorAll('input[type=checkbox], input[type=radio]')]
                    .every(i => {
                        const label = (i.labels && i.labels[0]) || i.parentElement;
                        const box = i.getBoundingClientRect();
                        const range = document.createRange();
                        range.selectNodeContents(label);
                        const text = range.getBoundingClientRect();
                        return box.left >= text.left + text.width / 2;
                    })"""
            )
        )

    async def suggestions_fit_across(self) -> bool:
        """Every suggested-action button is inside the window: none scrolled out of sight."""
        buttons = self.page.locator(self.sel["suggested"])
        width = self.page.viewport_size["width"]
        for n in range(await buttons.count()):
            box = await buttons.nth(n).bounding_box()
            if box is None or box["x"] < 0 or box["x"] + box["width"] > width + 1:
                return False
        return True

    async def options_fit_across(self) -> bool:
        """Every option of the last card is inside the chat's width: nothing to scroll to."""
        return bool(
            await self.last_card().evaluate(
                """card => {
                    const box = card.getBoundingClientRect();
                    const right = Math.min(box.right, window.innerWidth) + 1;
                    return [...card.querySelectorAll('input')].every(i => {
                        const r = i.getBoundingClientRect();
                        return r.width > 0 && r.left >= 0 && r.right <= right;
                    });
                }"""
            )
        )

    async def tap_card(
        self,
        button: str,
        *,
        pick: Sequence[str] = (),
        tick: Sequence[str] = (),
        expect: Sequence[str] | str,
    ) -> str:
        """Teams: on the last card, picks radio buttons (by option id) and ticks checkboxes
        (by their label: Teams renders them without a value), then presses `button`."""
        card = self.last_card()

        async def act() -> None:
            for value in pick:
                await card.locator(f'input[type="radio"][value="{value}"]').check()
            for label in tick:
                await card.locator(f'input[type="checkbox"][aria-label="{label}"]').check()
            await card.locator(f'button[title="{button}"]').click()

        return await self._then(act, expect)
