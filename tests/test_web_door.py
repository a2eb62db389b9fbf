"""The child's own door: a phone opens the link on their invite (`/chat#<code>`), and the page
MyReview serves itself (Web Chat over its own Direct Line channel) takes it from there.

The real server runs as `myreview serve` in its own process, with its log captured; the page
is opened in Debian's Chromium at a phone's size (360 x 740). Needs Chromium and node_modules
(`make browser-deps`): fails, never skips, without them. Every word is read from content/.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from playwright.async_api import async_playwright, expect

from bot.cli import add_review
from bot.settings import REPO_ROOT, Settings
from bot.web_door import contrast
from storage.content import Content, load_content
from storage.crypto import new_key_entry
from tests.conftest import review_data
from tests.crashchannel import bot_env, free_port
from tests.playground import CHROMIUM, CHROMIUM_ARGS, Playground, require_browser_deps
from tests.test_e2e_playground import Words

pytestmark = pytest.mark.browser

PHONE = {"width": 360, "height": 740}
BUNDLE = REPO_ROOT / "node_modules" / "botframework-webchat" / "dist" / "webchat.js"
AXE = REPO_ROOT / "node_modules" / "axe-core" / "axe.min.js"
NEUTRAL = "https://www.bbc.co.uk/weather"  # the default: answered by the browser, in the test
# A 1 x 1 PNG, as a council's logo.
TINY_PNG = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk"
    "+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
# What the page shows, as Web Chat draws it (4.18; the send box is a text area that wraps).
PAGE = {
    "input": '[data-id="webchat-sendbox-input"]',
    "bot": ".webchat__bubble:not(.webchat__bubble--from-user) .webchat__bubble__content",
    "user": ".webchat__bubble--from-user .webchat__bubble__content",
    "suggested": ".webchat__suggested-actions button.webchat__suggested-action",
}


# --- the server ----------------------------------------------------------------------------


@dataclass
class Door:
    """`myreview serve` in its own process, on its own database, its output kept."""

    root: Path
    settings: Settings
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None
    codes: list[str] = field(default_factory=list)  # every code given out, for the log check

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.settings.port}"

    def start(self, timeout: float = 60.0) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bot.cli", "serve"],
                cwd=self.root,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"the server did not start:\n{self.log_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=2) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        raise AssertionError(f"the server was not healthy in {timeout} s:\n{self.log_text()}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    async def new_review(self, **overrides: Any) -> tuple[Any, str]:
        """A review and its invite code, made as `myreview review add` makes them."""
        review, code = await add_review(self.settings, review_data(**overrides))
        self.codes.append(code)
        return review, code


def require_page_deps() -> None:
    """Fail (never skip) without the browser, Web Chat's bundle or axe-core."""
    require_browser_deps()
    missing = [str(p) for p in (BUNDLE, AXE) if not p.exists()]
    if missing:
        pytest.fail(f"Missing {', '.join(missing)}: run `make browser-deps`", pytrace=False)


def start_door(tmp: Path, **settings: str) -> Door:
    tmp.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = bot_env(tmp, port=port, root=REPO_ROOT, data_keys=new_key_entry(), **settings)
    own = {k.removeprefix("MYREVIEW_").lower(): v for k, v in env.items() if "MYREVIEW_" in k}
    door = Door(
        root=REPO_ROOT,
        settings=Settings(_env_file=None, **own),  # type: ignore[arg-type]
        env=env,
        log=tmp / "server.log",
    )
    door.start()
    return door


@pytest.fixture(scope="module")
def door(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Door]:
    """The server as a council runs it: every setting at its default but one. Every page here
    comes from one address, as a children's home's would: it may start more chats an hour."""
    require_page_deps()
    server = start_door(tmp_path_factory.mktemp("door"), web_chats_per_address_per_hour="500")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def quick_door(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Door]:
    """The same, for a browser that answers the moment a question shows: faster than any child
    could read it, which the bot would otherwise take as part of the answer before."""
    require_page_deps()
    server = start_door(
        tmp_path_factory.mktemp("quick-door"),
        burst_window_seconds="0",
        web_chats_per_address_per_hour="500",
    )
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def content() -> Content:
    return load_content(REPO_ROOT / "content")


# --- the phone -------------------------------------------------------------------------------


@dataclass
class Phone:
    """One browser context (a fresh, private profile) at a phone's size, recording every
    request, WebSocket and Content-Security-Policy violation of its pages."""

    context: Any
    page: Any
    requests: list[Any] = field(default_factory=list)
    sockets: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)

    def ui(self) -> OnThePage:
        return OnThePage(self.page)


class OnThePage(Playground):
    """The Playground's Web Chat helpers, on MyReview's own page."""

    def __init__(self, page: Any) -> None:
        super().__init__(page, "webchat")
        self.sel = PAGE

    async def texts(self) -> list[str]:
        # Web Chat typesets quotes (‘family time’); compare with the content's plain ones.
        return [
            t.replace("\u2018", "'").replace("\u201c", '"').replace("\u201d", '"')
            for t in await super().texts()
        ]

    async def number_shown_for(self, words: str) -> int:
        """The number the child sees beside `words` in the last numbered list that has them:
        a Markdown list (its numbers drawn by CSS), or lines "1. ..." (right to left too)."""
        texts = await self.texts()
        for n in range(len(texts) - 1, -1, -1):
            if words not in texts[n]:
                continue
            shown = await self.bot_messages.nth(n).evaluate(
                """(el, words) => {
                    const plain = s => s.replace(/[\u2018\u2019]/g, "'");
                    for (const ol of el.querySelectorAll('ol')) {
                        const items = [...ol.children].filter(li => li.tagName === 'LI');
                        const i = items.findIndex(li => plain(li.textContent).includes(words));
                        if (i >= 0) return (ol.start || 1) + i;
                    }
                    return null;
                }""",
                words,
            )
            if shown is not None:
                return int(shown)
            text = re.sub("[\u2067\u2069\u200e\u200f]", "", texts[n])
            found = re.search(rf"(?m)^\s*(\d+)\.\s*{re.escape(words)}\s*$", text)
            if found:
                return int(found.group(1))
        raise AssertionError(f"no number beside {words!r} on the page")


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    require_page_deps()
    async with async_playwright() as p:
        chromium = await p.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield chromium
        finally:
            await chromium.close()


async def open_phone(browser: Any, tmp_path: Path, **options: Any) -> Phone:
    context = await browser.new_context(
        viewport=options.pop("viewport", PHONE), locale=options.pop("locale", "en-GB"), **options
    )
    # The neutral site Leave quickly opens: answered here, not fetched from the internet.
    await context.route(
        f"{NEUTRAL}**",
        lambda route: route.fulfill(content_type="text/html", body="<h1>Weather</h1>"),
    )
    page = await context.new_page()
    phone = Phone(context, page)
    context.on("request", lambda request: phone.requests.append(request))
    page.on("websocket", lambda ws: phone.sockets.append(ws.url))
    page.on(
        "console",
        lambda m: phone.violations.append(m.text) if "Content Security Policy" in m.text else None,
    )
    return phone


@pytest.fixture
async def phone(browser: Any, tmp_path: Path) -> AsyncIterator[Phone]:
    p = await open_phone(browser, tmp_path)
    try:
        yield p
    finally:
        await p.page.screenshot(path=str(tmp_path / "last.png"))
        await p.context.close()


async def get(url: str, **headers: str) -> tuple[int, Any, bytes]:
    async with (
        aiohttp.ClientSession(auto_decompress=False) as http,
        http.get(url, headers=headers) as answer,
    ):
        return answer.status, answer.headers, await answer.read()


def policy(header: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for directive in header.split(";"):
        name, *values = directive.split()
        out[name] = values
    return out


def spellings(code: str) -> list[str]:
    """A code as it could appear anywhere: with or without dashes, in either case."""
    bare = code.replace("-", "")
    return [code, code.lower(), bare, bare.lower()]


# --- the page itself -------------------------------------------------------------------------


async def test_the_page_is_never_stored_never_framed_and_runs_only_its_own_scripts(door):
    status, headers, body = await get(f"{door.url}/chat")
    assert status == 200
    assert headers["Cache-Control"] == "no-store"
    assert headers["Referrer-Policy"] == "no-referrer"
    csp = policy(headers["Content-Security-Policy"])
    assert csp["default-src"] == ["'none'"]
    assert csp["script-src"] == ["'self'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["base-uri"] == ["'none'"]
    assert csp["connect-src"] == [
        "'self'",
        f"wss://127.0.0.1:{door.settings.port}",
        f"ws://127.0.0.1:{door.settings.port}",
    ]
    assert "'unsafe-inline'" not in csp["style-src"] and "'unsafe-eval'" not in csp["script-src"]
    # Styles: this response's nonce, which the page hands to Web Chat, and a new one each time.
    html = body.decode()
    nonce = re.search(r"<style nonce=\"([^\"]+)\"", html)
    assert nonce and f"'nonce-{nonce.group(1)}'" in csp["style-src"]
    _, again, _ = await get(f"{door.url}/chat")
    assert again["Content-Security-Policy"] != headers["Content-Security-Policy"]
    # No script written into the page: every <script> has a source of its own.
    assert re.findall(r"<script(?![^>]*\ssrc=)[^>]*>", html) == []


async def test_every_script_and_style_is_checked_by_its_hash_and_web_chat_is_the_installed_one(
    door,
):
    _, _, body = await get(f"{door.url}/chat")
    html = body.decode()
    tags = re.findall(r"<(?:script|link)[^>]*(?:src|href)=\"(/chat/[^\"]+)\"[^>]*>", html)
    assert len(tags) == 3, tags  # app.css, app.js, webchat.js
    for tag in re.findall(r"<(?:script|link)[^>]*(?:src|href)=\"/chat/[^\"]+\"[^>]*>", html):
        url = re.search(r"(?:src|href)=\"([^\"]+)\"", tag).group(1)  # type: ignore[union-attr]
        integrity = re.search(r"integrity=\"sha384-([^\"]+)\"", tag)
        assert integrity, f"no integrity hash on {tag}"
        plain_status, plain_headers, plain = await get(door.url + url, **{"Accept-Encoding": ""})
        assert plain_status == 200
        assert plain_headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert base64.b64decode(integrity.group(1)) == hashlib.sha384(plain).digest()
        if "webchat.js" in url:
            assert plain == BUNDLE.read_bytes()
            # Sent compressed to a browser that can take it: the same bytes, a quarter the size.
            _, zipped_headers, zipped = await get(door.url + url, **{"Accept-Encoding": "gzip"})
            assert zipped_headers["Content-Encoding"] == "gzip"
            assert len(zipped) < len(plain) / 3
            assert gzip.decompress(zipped) == plain


@pytest.mark.parametrize(
    ("link", "browser_languages", "lang", "direction"),
    [
        ("/chat?lang=ar", "en-GB,en", "ar", "rtl"),
        ("/chat", "ar-SA,ar;q=0.9,en;q=0.5", "ar", "rtl"),
        ("/chat", "fr-FR,sq;q=0.8,en;q=0.5", "sq", "ltr"),  # French is not spoken: Albanian
        ("/chat?lang=xx", "de", "en", "ltr"),  # neither is spoken: English
        ("/chat?lang=%3Cscript%3E", "q=;;,,", "en", "ltr"),  # nonsense is English, not a 500
    ],
)
async def test_the_page_speaks_the_childs_language(
    door, content, link, browser_languages, lang, direction
):
    status, _, body = await get(door.url + link, **{"Accept-Language": browser_languages})
    assert status == 200
    html = body.decode()
    assert f'<html lang="{lang}" dir="{direction}"' in html
    assert f">{content.text('page.leave', lang)}</a>" in html
    assert f"<title>{content.text('page.title', lang)}</title>" in html


async def test_the_councils_name_colour_and_logo_are_on_the_page(tmp_path, browser):
    logo = tmp_path / "logo.png"
    logo.write_bytes(base64.b64decode(TINY_PNG))
    # A pale yellow: the bar's text is dark on it, and buttons use a darker shade on white.
    council = start_door(
        tmp_path / "council",
        council_name="Northshire Council",
        council_colour="#FFDD00",
        council_logo=str(logo),
        leave_quickly_url="https://www.metoffice.gov.uk/",
    )
    try:
        _, _, body = await get(f"{council.url}/chat")
        html = body.decode()
        assert '<h1 class="council">Northshire Council</h1>' in html
        assert "--brand: #ffdd00; --on-brand: #111111;" in html
        accent = re.search(r"--accent: (#[0-9a-f]{6})", html).group(1)  # type: ignore[union-attr]
        assert contrast(accent, "#ffffff") >= 4.5
        assert 'href="https://www.metoffice.gov.uk/"' in html
        src = re.search(r'<img class="logo" src="([^"]+)" alt="">', html)
        assert src
        status, headers, served = await get(council.url + src.group(1))
        assert (status, headers["Content-Type"], served) == (200, "image/png", logo.read_bytes())
        # In the browser: the logo shows, and nothing breaks the page's policy.
        phone = await open_phone(browser, tmp_path)
        try:
            await phone.page.goto(f"{council.url}/chat")
            await expect(phone.page.locator("img.logo")).to_be_visible()
            width = await phone.page.locator("img.logo").evaluate("img => img.naturalWidth")
            assert width == 1
            assert phone.violations == []
        finally:
            await phone.context.close()
    finally:
        council.stop()


def test_a_logo_that_is_not_there_stops_the_start_saying_which_setting(tmp_path):
    env = bot_env(
        tmp_path,
        port=free_port(),
        root=REPO_ROOT,
        data_keys=new_key_entry(),
        council_logo=str(tmp_path / "missing.png"),
    )
    out = subprocess.run(
        [sys.executable, "-m", "bot.cli", "serve"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode != 0
    assert "MYREVIEW_COUNCIL_LOGO: there is no file at" in out.stderr
    assert "Traceback" not in out.stderr


# --- in the browser --------------------------------------------------------------------------


async def test_a_child_opens_the_link_and_the_code_never_leaves_the_phone_in_a_url(
    door, content, phone
):
    review, code = await door.new_review(first_name="Sam")
    en = Words(content, "en")
    ui = phone.ui()

    await ui.open(f"{door.url}/chat#{code}", expect=[en.msg("linked", name="Sam"), en.q("name")])
    # The code went as the child's first message, and is gone from the address bar.
    await expect(phone.page.locator(PAGE["user"]).first).to_have_text(code)
    assert phone.page.url == f"{door.url}/chat"
    assert await phone.page.evaluate("location.hash") == ""
    # Nothing outside the app was asked for, and nothing named the page it came from.
    origins = {re.match(r"^(?:blob:)?(\w+://[^/]+)", r.url).group(1) for r in phone.requests}  # type: ignore[union-attr]
    assert origins == {door.url}
    assert phone.sockets and all(
        s.startswith(f"ws://127.0.0.1:{door.settings.port}/") for s in phone.sockets
    )
    assert all("referer" not in r.headers for r in phone.requests)
    # The code is in no request's address and nowhere in the server's log.
    addresses = [r.url for r in phone.requests] + phone.sockets
    for spelling in spellings(code):
        assert not [a for a in addresses if spelling in a]
    log = door.log_text()
    assert "/chat" in log  # the log is there, and shows the page was fetched
    for spelling in spellings(code):
        assert spelling not in log
    # Nothing went wrong loading the page: no style or script refused by its policy.
    assert phone.violations == []


async def test_the_code_works_without_dashes_or_capitals_and_typed_by_hand(door, content, phone):
    en = Words(content, "en")
    _, code = await door.new_review(first_name="Lee")
    ui = phone.ui()
    await ui.open(f"{door.url}/chat#{code.replace('-', '').lower()}", expect=en.q("name"))
    assert await phone.page.evaluate("location.href") == f"{door.url}/chat"

    _, typed = await door.new_review(first_name="Kai")
    other = await open_phone(phone.context.browser, Path("."))
    try:
        by_hand = other.ui()
        await by_hand.open(f"{door.url}/chat", expect=en.q("invite_code"))
        await by_hand.type(typed, expect=[en.msg("linked", name="Kai"), en.q("name")])
    finally:
        await other.context.close()


async def test_nothing_of_the_chat_is_kept_in_the_browser(quick_door, content, phone):
    en = Words(content, "en")
    _, code = await quick_door.new_review()
    ui = phone.ui()
    await ui.open(f"{quick_door.url}/chat#{code}", expect=en.q("name"))
    await ui.tap_suggested("Sam", expect=en.q("pronouns"))
    kept = await phone.page.evaluate(
        """async () => ({
            local: localStorage.length,
            session: sessionStorage.length,
            cookies: document.cookie,
            databases: (await indexedDB.databases()).length,
        })"""
    )
    assert kept == {"local": 0, "session": 0, "cookies": "", "databases": 0}
    assert await phone.context.cookies() == []


async def test_leave_quickly_replaces_the_chat_and_leaves_nothing_to_go_back_to(
    door, content, phone
):
    en = Words(content, "en")
    _, code = await door.new_review()
    page = phone.page
    # The child was reading a message before they tapped the link.
    await page.goto(f"{NEUTRAL}?before")
    ui = phone.ui()
    await ui.open(f"{door.url}/chat#{code}", expect=en.q("name"))

    leave = page.get_by_role("link", name=content.text("page.leave", "en"))
    await expect(leave).to_be_visible()
    await leave.click()
    await page.wait_for_url(NEUTRAL)
    await expect(page.locator("h1")).to_have_text("Weather")
    # Back goes to what they read before, never to the chat.
    await page.go_back()
    assert page.url == f"{NEUTRAL}?before"
    assert await page.go_back() is None or "/chat" not in page.url


async def test_leave_quickly_with_three_shifts_but_never_while_typing_capitals(
    door, content, phone
):
    en = Words(content, "en")
    _, code = await door.new_review()
    page = phone.page
    ui = phone.ui()
    await ui.open(f"{door.url}/chat#{code}", expect=en.q("name"))
    box = page.locator(PAGE["input"])
    await box.click()
    # "I Like Pizza": three capitals in two seconds, each with a letter after its Shift.
    for word in ("I", "Like", "Pizza"):
        await page.keyboard.down("Shift")
        await page.keyboard.press(f"Key{word[0]}")
        await page.keyboard.up("Shift")
        await page.keyboard.type(word[1:] + " ")
    await expect(box).to_have_value("I Like Pizza ")
    assert page.url == f"{door.url}/chat"

    for _ in range(3):
        await page.keyboard.press("Shift")
    await page.wait_for_url(NEUTRAL)
    await page.go_back()
    assert "/chat" not in page.url


async def test_leave_quickly_is_the_first_thing_a_keyboard_reaches(door, content, phone):
    await phone.page.goto(f"{door.url}/chat")
    await phone.page.keyboard.press("Tab")
    focused = await phone.page.evaluate("document.activeElement.textContent")
    assert focused == content.text("page.leave", "en")
    await phone.page.keyboard.press("Enter")
    await phone.page.wait_for_url(NEUTRAL)


async def test_without_javascript_the_page_says_so_and_leave_quickly_still_works(
    door, content, browser, tmp_path
):
    phone = await open_phone(browser, tmp_path, java_script_enabled=False)
    try:
        # What a browser without scripts shows (Chromium here only stops scripts running, so
        # the <noscript> part is read from the page as sent).
        _, _, body = await get(f"{door.url}/chat")
        noscript = re.search(r"<noscript>(.*?)</noscript>", body.decode(), re.S)
        assert noscript and content.text("page.noscript", "en") in noscript.group(1)
        assert ".notice { display: none; }" in noscript.group(1)  # no "getting ready" forever
        page = phone.page
        await page.goto(f"{door.url}/chat")
        await page.get_by_role("link", name=content.text("page.leave", "en")).click()
        await page.wait_for_url(NEUTRAL)
    finally:
        await phone.context.close()


async def test_arabic_reads_right_to_left_and_the_chat_speaks_arabic(
    door, content, browser, tmp_path
):
    ar = Words(content, "ar")
    _, code = await door.new_review(first_name="Amira")
    phone = await open_phone(browser, tmp_path, locale="ar")
    try:
        ui = phone.ui()
        # The browser says Arabic, and MyReview speaks it: the page and the chat are Arabic,
        # from the welcome (before the code, in the easy wording) on.
        welcome = content.text("messages.welcome_rules", "ar", "easy")
        said = await ui.open(
            f"{door.url}/chat#{code}", expect=[welcome, ar.msg("linked", name="Amira")]
        )
        assert said.index(welcome) < said.index(ar.msg("linked", name="Amira"))
        html = phone.page.locator("html")
        await expect(html).to_have_attribute("dir", "rtl")
        await expect(html).to_have_attribute("lang", "ar")
        leave = phone.page.get_by_role("link", name=content.text("page.leave", "ar"))
        # Right to left: Leave quickly stands at the left end of the bar, the council's name
        # at the right.
        name_box = await phone.page.locator(".council").bounding_box()
        leave_box = await leave.bounding_box()
        assert name_box and leave_box and leave_box["x"] < name_box["x"]
        placeholder = await phone.page.locator(PAGE["input"]).get_attribute("placeholder")
        assert placeholder == content.text("page.type_here", "ar")
        # What the child typed keeps its own direction: their code, sent from the link, reads
        # as it was given (it showed "ZEK-7SA-963" for 963-ZEK-7SA on a right-to-left page).
        mine = phone.page.locator(".webchat__bubble--from-user .webchat__bubble__content").first
        bidi = await mine.evaluate("el => getComputedStyle(el).unicodeBidi")
        assert bidi == "plaintext"
    finally:
        await phone.context.close()


async def test_when_too_many_chats_are_starting_the_page_says_try_in_a_minute(
    browser, content, tmp_path
):
    # A server that takes one new chat an hour from an address: the second page is refused.
    busy = start_door(tmp_path / "busy-door", web_chats_per_address_per_hour="1")
    first, second = await open_phone(browser, tmp_path), await open_phone(browser, tmp_path)
    try:
        await first.ui().open(f"{busy.url}/chat", expect=[Words(content, "en").q("invite_code")])
        await second.page.goto(f"{busy.url}/chat")
        await expect(second.page.locator("#notice-text")).to_have_text(
            content.text("page.busy", "en")
        )
        retry = second.page.get_by_role("button", name=content.text("page.retry", "en"))
        await expect(retry).to_be_visible()
        # The chat on the first page goes on as before.
        await expect(first.page.locator("#notice")).to_be_hidden()
    finally:
        for phone in (first, second):
            await phone.context.close()
        busy.stop()


async def test_the_page_is_busy_kindly_and_tries_again(door, content, phone):
    en = Words(content, "en")
    _, code = await door.new_review()
    page = phone.page
    # More chats are starting than the service takes: it answers 429, "try in a minute".
    await phone.context.route(
        "**/v3/directline/tokens/generate",
        lambda route: route.fulfill(status=429, headers={"Retry-After": "60"}, body="{}"),
    )
    await page.goto(f"{door.url}/chat#{code}")
    notice = page.locator("#notice-text")
    await expect(notice).to_have_text(content.text("page.busy", "en"))
    assert page.url == f"{door.url}/chat"  # the code is out of the address bar all the same
    await phone.context.unroute("**/v3/directline/tokens/generate")
    # "Try again" starts the chat, and the code from the link still goes first.
    await page.get_by_role("button", name=content.text("page.retry", "en")).click()
    await phone.ui().wait_for([en.q("name")], after=0)
    await expect(page.locator("#notice")).to_be_hidden()


async def test_without_a_connection_the_page_says_so_and_tries_again(door, content, phone):
    en = Words(content, "en")
    page = phone.page
    await phone.context.route("**/v3/directline/**", lambda route: route.abort())
    await page.goto(f"{door.url}/chat")
    await expect(page.locator("#notice-text")).to_have_text(content.text("page.offline", "en"))
    await phone.context.unroute("**/v3/directline/**")
    await page.get_by_role("button", name=content.text("page.retry", "en")).click()
    await phone.ui().wait_for([en.q("invite_code")], after=0)


async def test_at_200_percent_zoom_nothing_needs_scrolling_sideways(
    door, content, browser, tmp_path
):
    en = Words(content, "en")
    _, code = await door.new_review()
    # A 360 px phone at 200%: 180 CSS pixels across.
    phone = await open_phone(browser, tmp_path, viewport={"width": 180, "height": 370})
    try:
        ui = phone.ui()
        await ui.open(f"{door.url}/chat#{code}", expect=en.q("name"))
        page = phone.page
        wide = await page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert wide <= 0
        for box in (
            await page.locator("#leave").bounding_box(),
            await page.locator(PAGE["input"]).bounding_box(),
        ):
            assert box and box["x"] >= 0 and box["x"] + box["width"] <= 180 + 1
        # The question is on screen, above the buttons that answer it.
        question = page.locator(PAGE["bot"]).filter(has_text=en.q("name")).last
        await expect(question).to_be_in_viewport()
        await page.screenshot(path=str(tmp_path / "zoom.png"))
    finally:
        await phone.context.close()


@pytest.mark.parametrize("locale", ["en", "ar"])
async def test_axe_finds_nothing_to_fix(door, content, browser, tmp_path, locale):
    words = Words(content, locale)
    _, code = await door.new_review(first_name="Sam")
    # axe is injected as a script, which the page's own policy rightly refuses: this context
    # alone is told to ignore that policy, for the check.
    phone = await open_phone(browser, tmp_path, bypass_csp=True)
    try:
        ui = phone.ui()
        await ui.open(f"{door.url}/chat?lang={locale}#{code}", expect=words.q("name"))
        await phone.page.add_script_tag(path=str(AXE))
        found = await phone.page.evaluate(
            """async () => (await axe.run(document)).violations.map(v => ({
                id: v.id, help: v.help,
                where: v.nodes.slice(0, 3).map(n => n.target.join(' ') + ': ' + n.failureSummary),
            }))"""
        )
        assert found == [], "\n".join(f"{v['id']}: {v['help']} {v['where']}" for v in found)
    finally:
        await phone.context.close()


async def test_suggested_actions_wrap_on_a_phone_and_are_big_enough_to_tap(door, content, phone):
    en = Words(content, "en")
    _, code = await door.new_review(first_name="Sam")
    ui = phone.ui()
    await ui.open(f"{door.url}/chat#{code}", expect=en.q("name"))
    assert await ui.suggestions_fit_across()
    buttons = phone.page.locator(PAGE["suggested"])
    assert await buttons.count() >= 3
    for n in range(await buttons.count()):
        box = await buttons.nth(n).bounding_box()
        assert box and box["height"] >= 44 and box["width"] >= 44
    # No upload button: pictures are not taken here.
    assert await phone.page.locator(".webchat__upload-button").count() == 0


# --- a whole consultation through the page ------------------------------------------------------


class Child:
    """A child on the page: taps what is offered, ticks boxes on a card, types. Each action
    waits for what the bot should say next (tests/playground.py)."""

    def __init__(self, phone: Phone) -> None:
        self.page = phone.page
        self.ui = phone.ui()

    async def choose(self, label: str, *, expect: list[str] | str) -> str:
        """Taps the option: its own button, or the button of the number shown beside it when
        the options are listed and numbered."""
        # Web Chat may typeset the label's apostrophe (That’s): either is the same label.
        pattern = re.escape(label).replace("'", "['\u2019]")
        buttons = self.page.locator(PAGE["suggested"])
        await buttons.first.wait_for()  # the question's buttons come with it
        own = buttons.filter(has_text=re.compile(rf"^\s*{pattern}\s*$"))
        if await own.count():
            return await self.ui._then(lambda: own.last.click(), expect)
        number = await self.ui.number_shown_for(label)
        return await self.ui.tap_suggested(str(number), expect=expect)

    async def to_when(self, link: str, en: Words) -> None:
        """Opens the link of a review for Sam and answers in English up to "when": Sam,
        they/them, written views, yes to talking first, at school."""
        ui = self.ui
        await ui.open(link, expect=[en.msg("linked", name="Sam"), en.q("name")])
        await ui.tap_suggested("Sam", expect=en.q("pronouns"))
        await self.choose(en.option("pronouns", "they_them"), expect=en.q("take_part"))
        await self.choose(en.option("take_part", "written_views"), expect=en.q("talk_to_iro"))
        await self.choose(en("choice_yes.label"), expect=en.q("where"))
        await ui.type(en.option("where", "school"), expect=en.q("when"))

    async def tick(self, labels: list[str], ok: str, *, expect: list[str] | str) -> str:
        """Ticks these options on the last card, then presses its OK."""
        card = self.ui.last_card()

        async def act() -> None:
            for label in labels:
                await card.get_by_role("checkbox", name=label).check()
            await card.get_by_role("button", name=ok).click()

        return await self.ui._then(act, expect)


def iro_email(door: Door, review: Any) -> str:
    """The summary as the IRO receives it: the .eml the server wrote (no mail server set)."""
    outbox = door.settings.var_dir / "outbox"
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        for path in sorted(outbox.glob("*.eml")) if outbox.exists() else []:
            text = path.read_text(encoding="utf-8", errors="replace")
            if review.iro_email in text and "Subject:" in text:
                from email import message_from_string, policy

                mail = message_from_string(text, policy=policy.default)
                body = mail.get_body(("plain",))  # type: ignore[attr-defined]
                if body is not None and review.first_name in str(body.get_content()):
                    return str(body.get_content())
        time.sleep(0.1)
    raise AssertionError(f"no summary for {review.iro_email} in {outbox}")


async def test_a_child_completes_their_review_in_english_from_the_link(
    quick_door, content, phone, tmp_path
):
    review, code = await quick_door.new_review(
        first_name="Sam", iro_email="sam.iro@council.example"
    )
    en = Words(content, "en")
    skip, ok = en.control("skip"), en.control("submit")
    child = Child(phone)
    ui = child.ui

    await child.to_when(f"{quick_door.url}/chat#{code}", en)
    await child.tick(
        [en.option("when", "after_school"), en.option("when", "weekend")],
        ok,
        expect=en.q("who_there"),
    )
    await ui.type("my foster mum and my art teacher", expect=en.q("who_not_there"))
    await ui.tap_suggested(skip, expect=[en.msg("skipped"), en.q("topics")])
    await child.tick(
        [en.option("topics", "education"), en.option("topics", "hobbies")],
        ok,
        expect=en.q("topic_say", topic=en.about("education")),
    )
    await ui.type(
        "I got better at maths, I want more help with reading",
        expect=en.q("topic_say", topic=en.about("hobbies")),
    )
    await ui.type("I love my art club", expect=en.q("not_discussed"))
    await ui.tap_suggested(skip, expect=en.q("my_words"))
    await ui.type(
        "family time not contact", expect=[en("questions.advocate.intro"), en.q("advocate")]
    )
    await child.choose(en("choice_no.label"), expect=en.q("proud"))
    await ui.type("I won a drawing prize", expect=en.q("anything_else"))
    await ui.tap_suggested(skip, expect=en.q("who_helped"))
    await child.choose(en.option("who_helped", "no_one"), expect=en.q("share_all"))
    check = await child.choose(
        en.option("share_all", "all_everyone"), expect=[en.msg("check_intro"), en.q("send_confirm")]
    )
    for shown in ("Sam", en.option("where", "school"), "I love my art club"):
        assert shown in check
    await child.choose(en.option("send_confirm", "send"), expect=en.msg("sent"))
    await phone.page.screenshot(path=str(tmp_path / "sent.png"))

    summary = iro_email(quick_door, review)
    for words in ("I love my art club", "I got better at maths", "family time not contact"):
        assert words in summary
    assert en.option("when", "after_school") in summary
    assert phone.violations == []


def mail_subjects(door: Door, *, wait_for: str) -> list[str]:
    """The subject of every .eml the server wrote, once one holds `wait_for` (15 s at most)."""
    outbox = door.settings.var_dir / "outbox"
    deadline = time.monotonic() + 15
    while True:
        subjects = [
            line.removeprefix("Subject: ")
            for path in (sorted(outbox.glob("*.eml")) if outbox.exists() else [])
            for line in path.read_text(encoding="utf-8", errors="replace").splitlines()
            if line.startswith("Subject: ")
        ]
        if any(wait_for in s for s in subjects) or time.monotonic() > deadline:
            return subjects
        time.sleep(0.1)


async def test_a_child_who_taps_yes_at_the_gentle_check_gets_the_help_and_an_urgent_alert(
    quick_door, content, phone
):
    """Words the screen is unsure of, typed as an answer, bring the gentle check; tapping its
    "Yes" in the real page is the help at once and an urgent alert, never "You answered that
    one already" (the page's one-tap buttons carry the option as `opt`)."""
    from dialogs.safeguarding_model import Screen
    from tests.test_after_worry import MAYBE

    screen = Screen.for_content(content)
    unsure = next(t for t in MAYBE if screen.assess(t).tier == "unsure")
    review, code = await quick_door.new_review(
        first_name="Sam", iro_email="kit.iro@council.example"
    )
    en = Words(content, "en")
    child = Child(phone)
    ui = child.ui
    await child.to_when(f"{quick_door.url}/chat#{code}", en)
    await child.tick([en.option("when", "weekend")], en.control("submit"), expect=en.q("who_there"))

    await ui.type(unsure, expect=en.q("safety_check"))
    said = await child.choose(
        en.option("safety_check", "unsafe"), expect=en.msg("safeguarding_thanks")
    )

    assert en.msg("stale_card") not in said
    subjects = mail_subjects(quick_door, wait_for="URGENT")
    assert any(s.startswith("URGENT: safeguarding concern") for s in subjects), subjects
    assert any("please check a message" in s for s in subjects), subjects  # the note, first
    assert phone.violations == []


async def test_an_arabic_child_completes_their_review_right_to_left(
    quick_door, content, phone, tmp_path
):
    review, code = await quick_door.new_review(
        first_name="Amira", language_hint="ar", iro_email="amira.iro@council.example"
    )
    ar = Words(content, "ar")
    skip = ar.control("skip")
    child = Child(phone)
    ui = child.ui

    # The link on an Arabic invite names the language: the page is Arabic from the start.
    await ui.open(
        f"{quick_door.url}/chat?lang=ar#{code}",
        expect=[ar.msg("linked", name="Amira"), ar.q("name")],
    )
    await expect(phone.page.locator("html")).to_have_attribute("dir", "rtl")
    await ui.type("أميرة", expect=ar.q("pronouns"))
    await child.choose(ar.option("pronouns", "she_her"), expect=ar.q("take_part"))
    await ui.type("١", expect=ar.q("talk_to_iro"))  # Arabic-Indic 1: speak for myself
    await child.choose(ar("choice_yes.label"), expect=ar.q("where"))
    await child.choose(ar.option("where", "online"), expect=ar.q("when"))
    # Pick more than one: typed as the numbers shown, in Arabic digits.
    await ui.type("٢، ٤", expect=[ar.msg("got_it"), ar.q("who_there")])
    await ui.type("أمي بالتبني ومعلمتي", expect=ar.q("who_not_there"))
    await ui.tap_suggested(skip, expect=[ar.msg("skipped"), ar.q("topics")])
    await ui.type("5", expect=ar.q("topic_say", topic=ar.about("hobbies")))
    await ui.type("أحب الرسم", expect=ar.q("not_discussed"))
    await ui.tap_suggested(skip, expect=ar.q("interpreter"))
    await child.choose(ar.option("interpreter", "no"), expect=ar.q("my_words"))
    await ui.tap_suggested(skip, expect=[ar("questions.advocate.intro"), ar.q("advocate")])
    await child.choose(ar("choice_no.label"), expect=ar.q("proud"))
    await ui.type("فزت في مسابقة", expect=ar.q("anything_else"))
    await ui.tap_suggested(skip, expect=ar.q("who_helped"))
    await child.choose(ar.option("who_helped", "no_one"), expect=ar.q("share_all"))
    check = await child.choose(
        ar.option("share_all", "all_everyone"),
        expect=[ar.msg("check_intro"), ar.q("send_confirm")],
    )
    assert "أحب الرسم" in check
    # The check list reads right to left: the arrow stands at the right of the answer.
    arrow, answer = await ui.right_edges_within("← أحب الرسم", ["←", "أحب الرسم"])
    assert arrow > answer, "the Arabic check list does not read right to left"
    await child.choose(ar.option("send_confirm", "send"), expect=ar.msg("sent"))
    await phone.page.screenshot(path=str(tmp_path / "sent-ar.png"))

    summary = iro_email(quick_door, review)
    assert "أحب الرسم" in summary
    assert "Language used in the chat: Arabic" in summary
    assert phone.violations == []


async def test_a_child_pauses_closes_the_page_and_carries_on_from_the_link_later(
    quick_door, content, browser, tmp_path
):
    review, code = await quick_door.new_review(first_name="Jo")
    en = Words(content, "en")
    first = await open_phone(browser, tmp_path)
    try:
        child = Child(first)
        await child.ui.open(f"{quick_door.url}/chat#{code}", expect=en.q("name"))
        await child.ui.tap_suggested("Jo", expect=en.q("pronouns"))
        await child.choose(en.option("pronouns", "they_them"), expect=en.q("take_part"))
        await child.ui.type("pause", expect=en.msg("paused"))
    finally:
        await first.context.close()  # the tab is closed: nothing of it is kept

    # Later, the same link on a fresh page: a new chat, the code again, and where they were.
    later = await open_phone(browser, tmp_path)
    try:
        again = Child(later)
        await again.ui.open(
            f"{quick_door.url}/chat#{code}", expect=[en.msg("linked_again", name="Jo")]
        )
        await again.ui.wait_for([en.q("take_part")], after=0)
        await again.choose(en.option("take_part", "written_views"), expect=en.q("talk_to_iro"))
    finally:
        await later.context.close()


async def test_the_page_carries_on_when_the_server_is_killed_and_started_again(
    content, browser, tmp_path
):
    en = Words(content, "en")
    server = start_door(
        tmp_path / "killed", burst_window_seconds="0", web_chats_per_address_per_hour="500"
    )
    phone = await open_phone(browser, tmp_path)
    try:
        _, code = await server.new_review(first_name="Sam")
        ui = phone.ui()
        await ui.open(f"{server.url}/chat#{code}", expect=en.q("name"))
        # kill -9, as a crash would, then the same server again (a redeploy): same database.
        assert server.process is not None
        server.process.kill()
        server.process.wait(10)
        server.start()
        # The same page, not reloaded: the child's next tap is answered there. Web Chat
        # reconnects its dropped socket with a backoff, so on a busy machine the answer can take
        # longer than a turn's usual wait (8-16 s alone; once over 15 s in a full run).
        await ui.tap_suggested("Sam", expect=en.q("pronouns"), timeout=60)
        await phone.page.screenshot(path=str(tmp_path / "after-restart.png"))
    finally:
        await phone.context.close()
        server.stop()
