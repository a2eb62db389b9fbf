"""Every staff page, in Chromium, as production shows it (a second factor on): axe-core finds no
accessibility violations at a phone's width (360 px) and on a desktop (1280 px), nothing runs
off the side of the phone, and every link, button and field is reached with Tab, its focus
shown. Each page is listed with the route it shows; a GET route under /staff that shows a page
and is not listed here fails the test (as the access matrix does for access)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, timedelta
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
from tests.test_staff_import import day
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
# Where each Tab lands and whether the focus shows there, noted by the page as it happens (one
# round trip a page instead of one a Tab).
WATCH_FOCUS = """() => {
  window.__focus = [];
  document.addEventListener('focusin', ev => {
    const e = ev.target, s = getComputedStyle(e);
    const shown = (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0)
      || s.boxShadow !== 'none';
    window.__focus.push([e.dataset ? (e.dataset.kb ?? null) : null, shown]);
  });
  document.activeElement && document.activeElement.blur();
}"""


async def keyboard_gaps(page: Page) -> list[str]:
    """What Tab never reaches, or reaches without showing where the focus is. A date or time
    field is four stops in Chromium (day, month, year or hour, minute, AM/PM; then its
    calendar or clock button), each checked."""
    names = await page.evaluate(KEYBOARD)
    parted = await page.locator("input[type=date]:visible, input[type=time]:visible").count()
    await page.evaluate(WATCH_FOCUS)
    for _ in range(len(names) + 3 * parted + 2):
        await page.keyboard.press("Tab")
    reached: set[str] = set()
    unseen: list[str] = []
    for kb, shown in await page.evaluate("window.__focus"):
        if kb is not None:
            reached.add(kb)
            if not shown and f"focus not shown on {names[int(kb)]!r}" not in unseen:
                unseen.append(f"focus not shown on {names[int(kb)]!r}")
    return unseen + [
        f"not reached by Tab: {n!r}" for i, n in enumerate(names) if str(i) not in reached
    ]


# The pages in two halves of about twenty, each a test of its own (under 30 s alone).
GROUPS = {
    "signed-out-iro-duty": (None, "iro", "duty"),
    "admin-participation": ("admin", "participation", "duty and admin"),
}


@pytest.mark.parametrize("group", list(GROUPS))
@pytest.mark.parametrize("width", list(WIDTHS))
async def test_every_staff_page_is_accessible_on_a_phone_and_a_desktop(
    client, parts, settings, linked_chat, tmp_path, width, group
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
        # A duty team manager who is an admin too: two boards.
        "duty and admin": "manager@council.example",
    }
    for role, email in emails.items():
        main, *also = role.split(" and ")
        _, secrets[role] = await make_staff(
            parts,
            email=email,
            role=main,
            also=tuple(also),
            name=f"{main.title()} Person",
            totp=True,
        )
    iro_id = (await parts.repos.staff.by_email(email=JO)).id
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

    async def give_up_the_last_admin_role(page: Page) -> None:
        # The manager's admin role set aside meanwhile: the admin is the last one, and is told.
        admin = await parts.repos.staff.by_email(email=emails["admin"])
        manager = await parts.repos.staff.by_email(email=emails["duty and admin"])
        await parts.repos.staff.set_roles(staff_id=manager.id, role="duty", extra_roles=[])
        await goto(base, f"/staff/admin/staff/{admin.id}")(page)
        await page.get_by_label("Main role").select_option("duty")
        await page.get_by_role("button", name="Save their roles").click()
        await page.get_by_role("alert").wait_for()
        await parts.repos.staff.set_roles(staff_id=manager.id, role="duty", extra_roles=["admin"])

    async def add_nobody(page: Page) -> None:
        await goto(base, "/staff/admin/staff")(page)
        await page.get_by_role("button", name="Add and make a set-up link").click()
        await page.get_by_role("alert").wait_for()

    # Reviews made and changed.
    async def new_review_wrongly(page: Page) -> None:
        await goto(base, "/staff/reviews/new")(page)
        await page.get_by_label("Age", exact=True).fill("40")
        await page.get_by_role("button", name="Make the review and its invite").click()
        await page.get_by_role("heading", name="There is a problem").wait_for()

    async def new_review(page: Page) -> None:
        await goto(base, "/staff/reviews/new")(page)
        await page.get_by_label("First name", exact=True).fill("Alex")
        await page.get_by_label("Age", exact=True).fill("12")
        await page.get_by_label("Language for the invite card").select_option("ar")
        await page.get_by_label("Date", exact=True).fill(
            (date.today() + timedelta(days=30)).isoformat()
        )
        await page.get_by_label("Start time").fill("10:00")
        await page.get_by_role("button", name="Make the review and its invite").click()
        await page.get_by_role("heading", name="Invite for Alex").wait_for()

    async def move_review(page: Page) -> None:
        await goto(base, f"/staff/reviews/{rid}/change")(page)
        await page.get_by_label("Place (optional)").fill("Oak House, the garden room")
        await page.get_by_role("button", name="Save and tell them").click()
        await page.get_by_role("status").wait_for()

    async def move_review_wrongly(page: Page) -> None:
        await goto(base, f"/staff/reviews/{rid}/change")(page)
        await page.get_by_label("Date", exact=True).fill("")
        await page.get_by_label("Start time").fill("")
        await page.get_by_role("button", name="Save and tell them").click()
        await page.get_by_role("heading", name="There is a problem").wait_for()

    async def one_iros_reviews(page: Page) -> None:
        await goto(base, "/staff/admin/reviews")(page)
        await page.get_by_role("link", name="Iro Person").click()
        await page.get_by_role("heading", name="Reviews of Iro Person").wait_for()

    # An import, through the upload form: a small export, and a spreadsheet by mistake.
    csv_file, xlsx_file = tmp_path / "upcoming.csv", tmp_path / "upcoming.xlsx"
    csv_file.write_text(
        "Case Ref,Child Forename,DOB,Next Review Date,Time,Venue,IRO Email,Language\n"
        f"CR-2001,Ali,03/04/2012,{day(20)},10:30,Oak House,{JO},English\n"
        f"CR-2002,Bea,14/09/2010,{day(35)},,,{JO},Arabic\n"
        f"CR-2003,Kim,01/01/2011,31/02/2027,,,{JO},\n"
    )
    xlsx_file.write_bytes(b"PK\x03\x04" + bytes(60))
    upload: dict[str, str] = {}

    async def send_file(page: Page, file: Any) -> None:
        await goto(base, "/staff/import")(page)
        await page.get_by_label("CSV file").set_input_files(str(file))
        await page.get_by_role("button", name="Upload and choose the columns").click()

    async def upload_spreadsheet(page: Page) -> None:
        await send_file(page, xlsx_file)
        await page.get_by_role("alert").wait_for()

    async def upload_csv(page: Page) -> None:
        await send_file(page, csv_file)
        await page.get_by_role("heading", name="Choose the columns").wait_for()
        upload["columns"] = page.url

    async def choose_wrongly(page: Page) -> None:
        await goto(base, urlsplit(upload["columns"]).path)(page)
        await page.get_by_label("Case reference").select_option("")
        await page.get_by_role("button", name="Check the rows").click()
        await page.get_by_role("alert").wait_for()

    async def check_rows(page: Page) -> None:
        await goto(base, urlsplit(upload["columns"]).path)(page)
        await page.get_by_role("button", name="Check the rows").click()
        await page.get_by_role("heading", name="Check the import").wait_for()

    async def confirm_import(page: Page) -> None:
        await goto(base, urlsplit(upload["columns"]).path + "/check")(page)
        await page.get_by_role("button", name="Import 2 new reviews").click()
        await page.get_by_role("heading", name="Reviews imported").wait_for()

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
            Visit("new review", "/staff/reviews/new", goto(base, "/staff/reviews/new")),
            Visit("new review, errors", "/staff/reviews/new", new_review_wrongly),
            Visit("new review, invite", "/staff/reviews/new", new_review),
            Visit(
                "change",
                "/staff/reviews/{review_id}/change",
                goto(base, f"/staff/reviews/{rid}/change"),
            ),
            Visit("change, moved", "/staff/reviews/{review_id}/reschedule", move_review),
            Visit("change, errors", "/staff/reviews/{review_id}/reschedule", move_review_wrongly),
            Visit("import, IRO", "/staff/import", goto(base, "/staff/import")),
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
            Visit(
                "roles",
                "/staff/admin/staff/{staff_id}",
                goto(base, f"/staff/admin/staff/{iro_id}"),
            ),
            Visit(
                "roles, errors",
                "/staff/admin/staff/{staff_id}/roles",
                give_up_the_last_admin_role,
            ),
            Visit("reviews by IRO", "/staff/admin/reviews", goto(base, "/staff/admin/reviews")),
            Visit("reviews of one IRO", "/staff/admin/reviews", one_iros_reviews),
            Visit("new review, admin", "/staff/reviews/new", goto(base, "/staff/reviews/new")),
            Visit("new review, admin, errors", "/staff/reviews/new", new_review_wrongly),
            Visit(
                "change, admin",
                "/staff/reviews/{review_id}/change",
                goto(base, f"/staff/reviews/{rid}/change"),
            ),
            Visit("import", "/staff/import", goto(base, "/staff/import")),
            Visit("import, not a CSV", "/staff/import", upload_spreadsheet),
            Visit("import, columns", "/staff/import/{import_id}", upload_csv),
            Visit("import, columns errors", "/staff/import/{import_id}", choose_wrongly),
            Visit("import, check", "/staff/import/{import_id}/check", check_rows),
            Visit("import, done", "/staff/import/{import_id}/confirm", confirm_import),
        ],
        "participation": [Visit("participation home", "/staff", goto(base, "/staff"))],
        "duty and admin": [
            Visit("two roles, main board", "/staff", goto(base, "/staff")),
            Visit("two roles, other board", "/staff", goto(base, "/staff?as=admin")),
        ],
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

    assert {*visits} == {role for roles in GROUPS.values() for role in roles}
    visits = {role: pages for role, pages in visits.items() if role in GROUPS[group]}
    found: dict[str, list[Any]] = {}
    async with async_playwright() as p:
        browser = await p.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            for role, pages in visits.items():
                # Only so that axe can be injected; the pages themselves run no script.
                context = await browser.new_context(viewport=WIDTHS[width], bypass_csp=True)
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
                    await visit.go(page)
                    problems: list[Any] = await axe_violations(page)
                    if width == "phone" and not await fits_the_width(page):
                        problems.append("wider than the phone")
                    problems += await keyboard_gaps(page)
                    found[f"{visit.name} ({width})"] = problems
                    name = f"{visit.name.replace(' ', '-')}-{width}.png"
                    await page.screenshot(path=str(tmp_path / name), full_page=True)
                await context.close()
        finally:
            await browser.close()
    assert len(found) == sum(len(v) for v in visits.values())
    bad = {name: problems for name, problems in found.items() if problems}
    assert bad == {}, json.dumps(bad, indent=1)
