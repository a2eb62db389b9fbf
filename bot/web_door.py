"""The child's own door: `GET /chat`, a phone-sized page with the official Bot Framework Web Chat,
served by MyReview itself and talking to its Direct Line channel (bot/directline.py).

A child opens the link on their invite (`/chat#K7M-4QX-9PD`). The page (bot/web/chat.html, its
script app.js and styles app.css) reads the code from the fragment, takes it out of the address
bar at once, and sends it as the child's first message once the chat is connected: a fragment
never reaches a server, so the code is in no URL, log or referrer. Every word on the page comes
from content/locales (`page.*`), in the language of `?lang=` or the browser's, else English.

Everything the page loads comes from here, with integrity hashes: Web Chat's prebuilt bundle
from node_modules (read once, with a long cache, its URL carrying its hash), app.js, app.css and
the council's logo. The page's Content-Security-Policy allows scripts from this origin only,
styles from this origin or with the response's nonce (Web Chat writes its styles at run time,
with the nonce it is given), and connections to this host only.

The page template is code, not content: it carries the security headers' counterparts (the
nonce, the integrity hashes) and the ids app.js relies on. Officers change its words in
content/locales and the council's name, colour and logo in settings.
"""

from __future__ import annotations

import base64
import functools
import gzip
import hashlib
import json
import logging
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web

from bot.settings import REPO_ROOT, Settings, UnsafeSetup
from dialogs.messages import CONTRACT
from storage.content import FALLBACK_LOCALE, Content, ContentError, load_content

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent / "web"
BUNDLE = REPO_ROOT / "node_modules" / "botframework-webchat" / "dist" / "webchat.js"
INSTALL_HINT = "run `npm ci --omit=dev` (or `make demo`) in the project folder"
# A year: every asset's URL carries its hash, so a new version is a new URL.
LONG_CACHE = "public, max-age=31536000, immutable"
LOGO_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".webp": "image/webp",
    ".svg": "image/svg+xml",
}
MAX_LOGO_BYTES = 512 * 1024

# The page's own words (content/locales, `page:`), checked at start in English.
PAGE_KEYS = (
    "title",
    "leave",
    "leave_hint",
    "loading",
    "busy",
    "offline",
    "error",
    "retry",
    "noscript",
)
# Web Chat's own words that a child sees on the page, in ours (Web Chat has no Albanian).
WEBCHAT_STRINGS = {
    "TEXT_INPUT_PLACEHOLDER": "type_here",
    "TEXT_INPUT_ALT": "type_here",
    "TEXT_INPUT_SEND_BUTTON_ALT": "send",
    "CONNECTIVITY_STATUS_ALT_CONNECTING": "loading",
    "CONNECTIVITY_STATUS_ALT_FATAL": "offline",
    "CONNECTIVITY_STATUS_ALT_RECONNECTING": "reconnecting",
    "CONNECTIVITY_STATUS_ALT_SLOW_CONNECTION": "slow",
    "TRANSCRIPT_NEW_MESSAGES": "new_messages",
    "ACTIVITY_STATUS_SEND_FAILED_RETRY": "send_failed",
}
# The hash of an empty <style>. Web Chat 4.18 starts its transcript's scroller
# (react-scroll-to-bottom) without the nonce it was given: that library adds an empty <style>
# and fills it through the CSSOM (insertRule), which a Content-Security-Policy does not govern.
# Allowing only an empty style element lets it work without 'unsafe-inline': any text in a
# <style> still needs the nonce.
EMPTY_STYLE = "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
# A Host header as browsers send it: a name or address, and a port.
HOST = re.compile(r"^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$")
LANGUAGE_TAG = re.compile(r"^[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*$")
QUALITY = re.compile(r"^q=(0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$")


@dataclass(frozen=True)
class Asset:
    """A file the page loads: its bytes, read once, and what the page needs to name it."""

    body: bytes
    content_type: str
    gzipped: bytes | None = None

    @functools.cached_property
    def digest(self) -> bytes:
        return hashlib.sha384(self.body).digest()

    @property
    def integrity(self) -> str:
        """The `integrity` attribute: the browser refuses the file if a byte differs."""
        return "sha384-" + base64.b64encode(self.digest).decode()

    def url(self, path: str) -> str:
        """`path` with the file's hash: a new version is a new URL, so it can be cached."""
        return f"{path}?v={self.digest.hex()[:16]}"


@functools.lru_cache(maxsize=16)
def _read(path: Path, content_type: str, compress: bool, _stat: tuple[int, int]) -> Asset:
    body = path.read_bytes()
    # Web Chat's bundle is 3.9 MB, about 1 MB gzipped: compressed once, here, not per request.
    gzipped = gzip.compress(body, 6, mtime=0) if compress else None
    return Asset(body, content_type, gzipped)


def read_asset(path: Path, content_type: str, *, compress: bool = False) -> Asset:
    """The file at `path`, read once per process and version (tests build many apps)."""
    stat = path.stat()
    return _read(path, content_type, compress, (stat.st_mtime_ns, stat.st_size))


def readable_on(colour: str) -> str:
    """Black or white, whichever reads better on `colour` (#rrggbb)."""
    ratio_white = contrast(colour, "#ffffff")
    return "#ffffff" if ratio_white >= contrast(colour, "#111111") else "#111111"


def _luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    r, g, b = (c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    """The WCAG contrast ratio of two #rrggbb colours (1 to 21)."""
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def readable_on_white(colour: str) -> str:
    """`colour`, darkened until text in it reads on white (4.5:1): a pale council colour
    still makes readable links and button text."""
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    while contrast(f"#{r:02x}{g:02x}{b:02x}", "#ffffff") < 4.5:
        r, g, b = (int(c * 0.9) for c in (r, g, b))
    return f"#{r:02x}{g:02x}{b:02x}"


def page_language(content: Content, asked: str | None, accept_language: str | None) -> str:
    """`?lang=` if MyReview speaks it, else the first of the browser's languages it speaks,
    else English. Anything malformed is ignored, never an error."""
    spoken = content.locales
    if asked:
        base = asked.strip().split("-")[0].lower()
        if base in spoken:
            return base
    ranked: list[tuple[float, int, str]] = []
    for n, part in enumerate((accept_language or "")[:500].split(",")[:20]):
        tag, *params = (p.strip() for p in part.split(";"))
        if not LANGUAGE_TAG.match(tag):
            continue
        quality = 1.0
        for param in params:
            found = QUALITY.match(param.replace(" ", ""))
            if found:
                quality = float(found.group(1))
        if quality > 0:
            ranked.append((-quality, n, tag.split("-")[0].lower()))
    for _, _, base in sorted(ranked):
        if base in spoken:
            return base
    return FALLBACK_LOCALE


def page_policy(nonce: str, host: str | None) -> str:
    """The page's Content-Security-Policy: this origin's scripts only (each also checked by its
    integrity hash), styles from here or carrying this response's nonce, connections to this
    host only (https and the Direct Line WebSocket), nothing framing it."""
    connect = ["'self'"]
    if host and HOST.match(host):
        connect += [f"wss://{host}", f"ws://{host}"]
    return "; ".join(
        [
            "default-src 'none'",
            "script-src 'self'",
            f"style-src 'self' 'nonce-{nonce}' '{EMPTY_STYLE}'",
            f"connect-src {' '.join(connect)}",
            "img-src 'self' data: blob:",
            "font-src 'self' data:",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        ]
    )


@dataclass(frozen=True)
class Door:
    """What the page needs, built once at start."""

    settings: Settings
    template: jinja2.Template
    bundle: Asset | None
    script: Asset
    styles: Asset
    logo: Asset | None

    def words(self, content: Content, locale: str) -> dict[str, str]:
        return {k: content.text(f"page.{k}", locale) for k in PAGE_KEYS}

    def webchat_words(self, content: Content, locale: str) -> dict[str, str]:
        return {name: content.text(f"page.{k}", locale) for name, k in WEBCHAT_STRINGS.items()}

    def render(self, content: Content, locale: str, nonce: str) -> str:
        colour = self.settings.council_colour.lower()
        return self.template.render(
            lang=locale,
            dir=content.direction(locale),
            t=self.words(content, locale),
            webchat_strings=json.dumps(self.webchat_words(content, locale), ensure_ascii=False),
            council_name=self.settings.council_name,
            brand=colour,
            on_brand=readable_on(colour),
            accent=readable_on_white(colour),
            logo_url=self.logo.url("/chat/logo") if self.logo else None,
            leave_url=self.settings.leave_quickly_url,
            nonce=nonce,
            bundle_url=self.bundle.url("/chat/webchat.js") if self.bundle else "",
            bundle_integrity=self.bundle.integrity if self.bundle else "",
            script_url=self.script.url("/chat/app.js"),
            script_integrity=self.script.integrity,
            styles_url=self.styles.url("/chat/app.css"),
            styles_integrity=self.styles.integrity,
        )


def _logo(settings: Settings) -> Asset | None:
    if not settings.council_logo.strip():
        return None
    path = Path(settings.council_logo.strip())
    kind = LOGO_TYPES.get(path.suffix.lower())
    if kind is None:
        raise UnsafeSetup(
            f"MYREVIEW_COUNCIL_LOGO must be a {', '.join(sorted(LOGO_TYPES))} file; "
            f"{path.name} is not."
        )
    if not path.is_file():
        raise UnsafeSetup(f"MYREVIEW_COUNCIL_LOGO: there is no file at {path}.")
    if path.stat().st_size > MAX_LOGO_BYTES:
        raise UnsafeSetup(
            f"MYREVIEW_COUNCIL_LOGO is over {MAX_LOGO_BYTES // 1024} KB: children on phone "
            "data would download it every time. Use a smaller image."
        )
    return read_asset(path, kind)


def _bundle(settings: Settings) -> Asset | None:
    if BUNDLE.is_file():
        return read_asset(BUNDLE, "text/javascript; charset=utf-8", compress=True)
    if settings.environment == "production":
        raise UnsafeSetup(f"Web Chat's bundle is missing ({BUNDLE}): {INSTALL_HINT}.")
    log.warning("web chat bundle missing: /chat cannot work", extra={"fix": INSTALL_HINT})
    return None


def _check_words(content: Content) -> None:
    needed = [f"page.{k}" for k in (*PAGE_KEYS, *WEBCHAT_STRINGS.values())]
    missing = [k for k in dict.fromkeys(needed) if not content.has(k, FALLBACK_LOCALE)]
    if missing:
        path = content.directory / "locales" / f"{FALLBACK_LOCALE}.yaml"
        raise ContentError(
            f"{path}: the chat page's wording {', '.join(missing)} is missing. Add it under "
            "'page:': English is complete."
        )


def add_routes(app: web.Application, settings: Settings) -> None:
    """`GET /chat` and the files it loads."""
    # Content as the app read it at start (the same files give the same, cached Content).
    content = load_content(settings.content_dir, required=CONTRACT)
    _check_words(content)
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    door = Door(
        settings=settings,
        template=environment.get_template("chat.html"),
        bundle=_bundle(settings),
        script=read_asset(HERE / "app.js", "text/javascript; charset=utf-8"),
        styles=read_asset(HERE / "app.css", "text/css; charset=utf-8"),
        logo=_logo(settings),
    )

    async def page(request: web.Request) -> web.Response:
        if door.bundle is None:
            return web.Response(
                status=503,
                text=f"The chat page is not installed on this server: {INSTALL_HINT}.\n",
                headers={"Retry-After": "3600"},
            )
        locale = page_language(
            content, request.query.get("lang"), request.headers.get("Accept-Language")
        )
        nonce = secrets.token_urlsafe(18)
        return web.Response(
            text=door.render(content, locale, nonce),
            content_type="text/html",
            headers={
                # Set here, so the app's default-deny headers (set only where missing) give way.
                "Content-Security-Policy": page_policy(nonce, request.headers.get("Host")),
                "Cache-Control": "no-store",
                "Referrer-Policy": "no-referrer",
                "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
                "Cross-Origin-Opener-Policy": "same-origin",
            },
        )

    def serve(asset: Asset | None) -> Any:
        async def handler(request: web.Request) -> web.Response:
            if asset is None:
                raise web.HTTPNotFound()
            headers = {"Cache-Control": LONG_CACHE, "Vary": "Accept-Encoding"}
            body = asset.body
            if asset.gzipped and "gzip" in request.headers.get("Accept-Encoding", "").lower():
                body = asset.gzipped
                headers["Content-Encoding"] = "gzip"
            return web.Response(body=body, headers={"Content-Type": asset.content_type, **headers})

        return handler

    app.router.add_get("/chat", page)
    app.router.add_get("/chat/webchat.js", serve(door.bundle))
    app.router.add_get("/chat/app.js", serve(door.script))
    app.router.add_get("/chat/app.css", serve(door.styles))
    app.router.add_get("/chat/logo", serve(door.logo))
