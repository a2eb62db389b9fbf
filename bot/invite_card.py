"""The invite a young person gets: their link (the code in its fragment), a printable card in
their language with the link as a QR code, and a short text a social worker can forward.

The card's layout is `content/templates/invite_card.html` (officers edit it; it renders in the
same sandbox as the emails) and its words are `card:` in content/locales. The code is shown
here once: only its hash is kept.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import segno
from babel.dates import format_date
from markupsafe import Markup

from bot.delivery.templating import Templates
from bot.settings import Settings
from storage.content import FALLBACK_LOCALE, Content, ContentError
from storage.models import Review

TEMPLATE = "invite_card.html"


def chat_link(settings: Settings, code: str, language: str | None = None) -> str:
    """The link a young person opens on their phone: the code in the fragment, which the page
    takes out of the address bar and never sends in a URL."""
    base = settings.public_url.rstrip("/") or f"http://localhost:{settings.port}"
    query = f"?lang={language}" if language else ""
    return f"{base}/chat{query}#{code}"


@dataclass(frozen=True)
class Invite:
    link: str
    card_html: str
    forward_text: str
    # The card's parts, for a page that shows it (the staff workspace): its words in the
    # child's language, that language and its direction, and the link as an SVG QR code.
    locale: str = FALLBACK_LOCALE
    direction: str = "ltr"
    words: dict[str, str] = field(default_factory=dict)
    qr: str = ""


def invite(settings: Settings, content: Content, review: Review, code: str) -> Invite:
    """The link, the card and the text to forward, in the review's language where MyReview
    speaks it (else English)."""
    hint = (review.language_hint or "").split("-")[0].lower()
    locale = hint if hint in content.locales else FALLBACK_LOCALE
    link = chat_link(settings, code, hint if locale == hint else None)
    tz = ZoneInfo(settings.timezone)
    review_day = review.review_at.astimezone(tz).date()
    # The code works until the end of the day it expires on (`invite_expires_at` is midnight).
    last_day = (review.invite_expires_at.astimezone(tz) - timedelta(seconds=1)).date()
    values = {
        "name": review.preferred_name or review.first_name,
        "date": format_date(review_day, "EEEE d MMMM", locale=locale),
        "address": link.split("#", 1)[0],
        "link": link,
    }
    words = {
        key: content.text(f"card.{key}", locale, **values)
        for key in ("title", "hello", "scan", "or_type", "help", "forward")
    }
    words["valid_until"] = content.text(
        "card.valid_until", locale, date=format_date(last_day, "EEEE d MMMM", locale=locale)
    )
    qr = qr_svg(link)
    html = Templates(content.templates_dir).render(
        TEMPLATE,
        lang=locale,
        dir=content.direction(locale),
        words=words,
        link=link,
        code=code,
        qr=Markup(qr),
    )
    return Invite(
        link=link,
        card_html=html,
        forward_text=words["forward"],
        locale=locale,
        direction=content.direction(locale),
        words=words,
        qr=qr,
    )


def qr_svg(link: str) -> str:
    """The link as a QR code, inline SVG: drawn here, nothing fetched."""
    out = io.BytesIO()
    segno.make(link, error="m").save(
        out,
        kind="svg",
        xmldecl=False,
        svgns=True,
        svgclass="qr",
        scale=6,
        border=2,
        title="QR",
    )
    return out.getvalue().decode("utf-8")


def check_invite_card(settings: Settings, content: Content) -> None:
    """Renders the card in every language with a sample review, so a typo in the template or
    its words stops the start, not an IRO making an invite."""
    at = datetime(2030, 1, 15, 10, tzinfo=UTC)
    for locale in content.locales:
        sample = Review(
            id=0,
            first_name="Sam",
            age=12,
            iro_name="Jo",
            iro_email="jo@example.org",
            review_at=at,
            invite_code_hash="",
            invite_expires_at=at + timedelta(days=1),
            language_hint=locale,
        )
        try:
            invite(settings, content, sample, "K7M-4QX-9PD")
        except Exception as exc:  # whatever breaks it, the officer needs the file
            raise ContentError(
                f"{content.templates_dir / TEMPLATE}: the invite card does not render in "
                f"{locale}: {type(exc).__name__}: {exc}"
            ) from exc
