"""Every staff page, in Chromium, as production shows it (a second factor on): axe-core finds no
accessibility violations at a phone's width (360 px) and on a desktop (1280 px), nothing runs
off the side of the phone, and every link, button and field is reached with Tab, its focus
shown. Each page is listed with the route it shows; a GET route under /staff that shows a page
and is not listed here fails the test (as the access matrix does for access)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pyotp
import pytest
from playwright.async_api import Page, async_playwright

from bot.staff.accounts import add_staff
from storage.models import StaffMemberCreate
from tests.conftest import fresh_database, make_settings
from tests.playground import CHROMIUM, CHROMIUM_ARGS, require_browser_deps
from tests.staff import PASSWORD, make_staff
from tests.test_staff_browser import AXE, axe_violations, fits_the_width
from tests.test_staff_summary import JO, sent_and_changed

pytestmark = [pytest.mark.browser, pytest.mark.timeout(400)]
WIDTHS = {"phone": {"width": 360, "height": 740}, "desktop": {"width": 1280, "height": 800}}
# Routes that show no page of their own: a style sheet, and the legs of Microsoft sign-in
# (a redirect each; their error pages are the sign-in page and the message page, seen below).
NOT_PAGES = {
    "/staff/static/staff.css",
    "/staff/sign-in/entra",
    "/staff/sign-in/entra/callback",
}


@pytest.fixture
def settings(tmp_path, migrated_database):
    fresh_database(migrated_database, tmp_path)
    return make_settings(tmp_path, staff_second_factor=True)


@dataclass
class Visit:
    name: str
    route: str  # the route table's path for it
    go: Callable[[Page], Awaitable[Any]]


def goto(base: str, path: str) -> Callable[[Page], Awaitable[Any]]:
    async def go(page: Page) -> None:
        response = await page.goto(base + path)
        assert response is not None and response.status < 500, path

    return go


KEYBOARD = """() => {
  const sel = 'a[href], button, input:not([type=hidden]), select, textarea';
  const all = [...document.querySelectorAll(sel)].filter(e => e.getClientRects().length);
  all.forEach((e, i) => { e.dataset.kb = String(i); });
  return all.map(e => (e.textContent || e.name || e.id || '').trim().slice(0, 40));
}"""
FOCUSED = """() => {
  const e = document.activeElement, s = getComputedStyle(e);
  const shown = (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0)
    || s.boxShadow !== 'none';
  return [e.dataset ? (e.dataset.kb ?? null) : null, shown];
}"""


async def keyboard_gaps(page: Page) -> list[str]:
    """What Tab never reaches, or reaches without showing where the focus is."""
    names = await page.evaluate(KEYBOARD)
    await page.evaluate("document.activeElement && document.activeElement.blur()")
    reached: set[str] = set()
    unseen: list[str] = []
    for _ in range(len(names) + 2):
        await page.keyboard.press("Tab")
        kb, shown = await page.evaluate(FOCUSED)
        if kb is not None:
            reached.add(kb)
            if not shown:
                unseen.append(f"focus not shown on {names[int(kb)]!r}")
    return unseen + [
        f"not reached by Tab: {n!r}" for i, n in enumerate(names) if str(i) not in reached
    ]


async def test_every_staff_page_is_accessible_on_a_phone_and_a_desktop(
    client, parts, settings, linked_chat, tmp_path
):
    require_browser_deps()
    assert AXE.exists(), "axe-core is missing: run `npm ci`"
    review = await sent_and_changed(linked_chat, parts, settings)
    (alert,) = [a for a in await parts.repos.alerts.for_review(review_id=review.id)]
    secrets = {}
    emails = {
        "iro": JO,
        "duty": "duty@council.example",
        "admin": "admin@council.example",
        "participation": "part@council.example",
    }
    for role, email in emails.items():
        _, secrets[role] = await make_staff(
            parts, email=email, role=role, name=f"{role.title()} Person", totp=True
        )
    _, link = await add_staff(
        parts.repos,
        settings,
        data=StaffMemberCreate(email="new@council.example", display_name="New", role="iro"),
        by=None,
    )
    set_up = urlsplit(link)
    base = str(client.make_url("/")).rstrip("/")
    rid, aid = review.id, alert.id

    async def sign_in_wrongly(page: Page) -> None:
        await goto(base, "/staff/sign-in")(page)
        await page.get_by_label("Email").fill("nobody@council.example")
        await page.get_by_label("Password").fill("not the password at all")
        await page.get_by_role("button", name="Sign in").click()
        await page.get_by_role("alert").wait_for()

    async def set_up_wrongly(page: Page) -> None:
        await goto(base, f"{set_up.path}?{set_up.query}")(page)
        await page.get_by_label("New password", exact=True).fill("one long password here")
        await page.get_by_label("New password again").fill("another long password")
        await page.get_by_role("button", name="Set up and sign in").click()
        await page.get_by_role("alert").wait_for()

    async def acknowledge(page: Page) -> None:
        await goto(base, f"/staff/alerts/{aid}")(page)
        await page.get_by_label("Note (optional)").fill("Called the social worker.")
        await page.get_by_role("button", name="Acknowledge: I am dealing with this").click()
        await page.get_by_role("status").wait_for()

    async def add_someone(page: Page) -> None:
        await goto(base, "/staff/admin/staff")(page)
        await page.get_by_label("Name").fill("Robin Reid")
        await page.get_by_label("Email").fill("robin.reid@council.example")
        await page.get_by_role("button", name="Add and make a set-up link").click()
        await page.get_by_role("status").wait_for()

    async def add_nobody(page: Page) -> None:
        await goto(base, "/staff/admin/staff")(page)
        await page.get_by_role("button", name="Add and make a set-up link").click()
        await page.get_by_role("alert").wait_for()

    visits: dict[str | None, list[Visit]] = {
        None: [
            Visit("sign-in", "/staff/sign-in", goto(base, "/staff/sign-in")),
            Visit("sign-in, wrong password", "/staff/sign-in", sign_in_wrongly),
            Visit("set-up, QR code", "/staff/set-up", goto(base, f"{set_up.path}?{set_up.query}")),
            Visit("set-up, errors", "/staff/set-up", set_up_wrongly),
            Visit("set-up, link gone", "/staff/set-up", goto(base, "/staff/set-up?token=gone")),
        ],
        "iro": [
            Visit("IRO board", "/staff", goto(base, "/staff")),
            Visit("review", "/staff/reviews/{review_id}", goto(base, f"/staff/reviews/{rid}")),
            Visit(
                "summary",
                "/staff/reviews/{review_id}/summary",
                goto(base, f"/staff/reviews/{rid}/summary"),
            ),
            Visit("alert, IRO", "/staff/alerts/{alert_id}", goto(base, f"/staff/alerts/{aid}")),
            Visit("not found", "/staff/reviews/{review_id}", goto(base, "/staff/reviews/999999")),
        ],
        "duty": [
            Visit("duty board", "/staff", goto(base, "/staff")),
            Visit("alert, duty", "/staff/alerts/{alert_id}", goto(base, f"/staff/alerts/{aid}")),
            Visit("alert acknowledged", "/staff/alerts/{alert_id}/acknowledge", acknowledge),
            Visit(
                "review, duty", "/staff/reviews/{review_id}", goto(base, f"/staff/reviews/{rid}")
            ),
            Visit(
                "summary, duty",
                "/staff/reviews/{review_id}/summary",
                goto(base, f"/staff/reviews/{rid}/summary"),
            ),
        ],
        "admin": [
            Visit("admin home", "/staff", goto(base, "/staff")),
            Visit("staff", "/staff/admin/staff", goto(base, "/staff/admin/staff")),
            Visit("staff, added", "/staff/admin/staff", add_someone),
            Visit("staff, errors", "/staff/admin/staff", add_nobody),
        ],
        "participation": [Visit("participation home", "/staff", goto(base, "/staff"))],
    }
    shown = {v.route for vs in visits.values() for v in vs}
    routes = {
        r.resource.canonical
        for r in client.app.router.routes()
        if r.resource is not None
        and r.resource.canonical.startswith("/staff")
        and r.method == "GET"
    }
    # POST routes whose answer is a page are listed by their own path (acknowledge, above).
    assert routes - NOT_PAGES <= shown, (
        f"staff pages not checked here: {routes - NOT_PAGES - shown}"
    )

    found: dict[str, list[Any]] = {}
    async with async_playwright() as p:
        browser = await p.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            for role, pages in visits.items():
                # Only so that axe can be injected; the pages themselves run no script.
                context = await browser.new_context(viewport=WIDTHS["phone"], bypass_csp=True)
                page = await context.new_page()
                if role is not None:
                    await goto(base, "/staff/sign-in")(page)
                    await page.get_by_label("Email").fill(emails[role])
                    await page.get_by_label("Password").fill(PASSWORD)
                    await page.get_by_label("Code from your authenticator app").fill(
                        pyotp.TOTP(secrets[role]).now()
                    )
                    await page.get_by_role("button", name="Sign in").click()
                    await page.get_by_role("button", name="Sign out", exact=True).wait_for()
                for visit in pages:
                    await page.set_viewport_size(WIDTHS["phone"])
                    await visit.go(page)
                    for width, size in WIDTHS.items():
                        await page.set_viewport_size(size)
                        problems: list[Any] = await axe_violations(page)
                        if width == "phone" and not await fits_the_width(page):
                            problems.append("wider than the phone")
                        problems += await keyboard_gaps(page)
                        found[f"{visit.name} ({width})"] = problems
                    await page.screenshot(
                        path=str(tmp_path / f"{visit.name.replace(' ', '-')}.png"), full_page=True
                    )
                await context.close()
        finally:
            await browser.close()
    assert len(found) == 2 * sum(len(v) for v in visits.values())
    bad = {name: problems for name, problems in found.items() if problems}
    assert bad == {}, json.dumps(bad, indent=1)
