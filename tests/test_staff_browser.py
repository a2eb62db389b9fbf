"""An IRO signs in on a phone-sized Chromium and reads a child's answers; axe-core finds no
accessibility violations on the pages on the way (sign-in, home, the review)."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

import pytest
from playwright.async_api import async_playwright

from bot.settings import REPO_ROOT
from tests.fake_entra import FakeEntra, Person
from tests.playground import CHROMIUM, CHROMIUM_ARGS, require_browser_deps
from tests.staff import PASSWORD, audit_rows, make_staff

pytestmark = pytest.mark.browser
AXE = REPO_ROOT / "node_modules" / "axe-core" / "axe.min.js"
JO = "jo.smith@council.example"
PHONE = {"width": 375, "height": 740}


async def axe_violations(page: Any) -> list[dict[str, Any]]:
    # The pages allow no script at all; axe is injected with the page's CSP bypassed (below).
    await page.add_script_tag(path=str(AXE))
    found = await page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target)}))"
    )
    return list(found)


async def fits_the_width(page: Any) -> bool:
    return bool(
        await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    )


async def test_an_iro_signs_in_on_a_phone_and_reads_the_answers(
    client, parts, linked_chat, tmp_path
):
    require_browser_deps()
    assert AXE.exists(), "axe-core is missing: run `npm ci`"
    review, chat = await linked_chat(first_name="Sam", iro_email=JO)
    await chat.say("English")
    await chat.say("Quokka-Lantern")
    await make_staff(parts, email=JO, role="iro", name="Jo Smith")
    base = str(client.make_url("/")).rstrip("/")
    violations: dict[str, list[dict[str, Any]]] = {}
    async with async_playwright() as p:
        context = await p.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=str(CHROMIUM),
            args=CHROMIUM_ARGS,
            headless=True,
            viewport=PHONE,
            is_mobile=True,
            has_touch=True,
            bypass_csp=True,  # only so that axe can be injected; the pages need no script
        )
        page = context.pages[0] if context.pages else await context.new_page()
        try:
            await page.goto(f"{base}/staff")  # signed out: sent to sign in
            assert page.url.endswith("/staff/sign-in")
            # The first Tab reaches the skip link.
            await page.keyboard.press("Tab")
            focused = await page.evaluate("document.activeElement.textContent")
            assert focused == "Skip to main content"
            violations["sign-in"] = await axe_violations(page)
            assert await fits_the_width(page)
            # By their labels, and Enter to send: as a keyboard or a screen reader would.
            await page.get_by_label("Email").fill(JO)
            await page.get_by_label("Password").fill(PASSWORD)
            await page.get_by_label("Password").press("Enter")
            await page.wait_for_url(f"{base}/staff")
            await page.get_by_role("heading", name="My reviews").wait_for()
            violations["home"] = await axe_violations(page)
            assert await fits_the_width(page)
            await page.get_by_role("link", name="Sam").click()
            await page.wait_for_url(f"{base}/staff/reviews/{review.id}")
            await page.locator(".words", has_text="Quokka-Lantern").first.wait_for()
            await page.get_by_role("heading", name="To do before the review").wait_for()
            violations["review"] = await axe_violations(page)
            assert await fits_the_width(page)
            await page.screenshot(path=str(tmp_path / "review-phone.png"), full_page=True)
            # Printed, the navigation and forms are left out.
            await page.emulate_media(media="print")
            nav_shown = await page.evaluate(
                "getComputedStyle(document.querySelector('header nav')).display"
            )
            assert nav_shown == "none"
        finally:
            await page.screenshot(path=str(tmp_path / "last.png"))
            await context.close()
    assert violations == {"sign-in": [], "home": [], "review": []}, json.dumps(violations)
    assert [e.review_id for e in await audit_rows(parts, "review.viewed")] == [review.id]


async def test_an_iro_makes_a_review_in_the_browser_and_the_child_is_told_it_was_read(
    client, parts, connector, new_chat, tmp_path
):
    """New review, its invite (code, QR, card), the child links and sends through the bot, the
    board moves on, "Mark as read", and the child is told: axe finds nothing on the way."""
    from tests.test_sending import finish

    require_browser_deps()
    conn, _ = connector
    await make_staff(parts, email=JO, role="iro", name="Jo Smith")
    base = str(client.make_url("/")).rstrip("/")
    violations: dict[str, list[dict[str, Any]]] = {}
    async with async_playwright() as p:
        context = await p.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=str(CHROMIUM),
            args=CHROMIUM_ARGS,
            headless=True,
            viewport=PHONE,
            is_mobile=True,
            has_touch=True,
            bypass_csp=True,  # only so that axe can be injected; the pages need no script
        )
        page = context.pages[0] if context.pages else await context.new_page()
        try:
            await page.goto(f"{base}/staff/sign-in")
            await page.get_by_label("Email").fill(JO)
            await page.get_by_label("Password").fill(PASSWORD)
            await page.get_by_label("Password").press("Enter")
            await page.wait_for_url(f"{base}/staff")
            await page.get_by_role("link", name="New review").click()
            await page.get_by_role("heading", name="New review").wait_for()
            # Sent empty: every problem named, each linked to its field.
            await page.get_by_role("button", name="Make the review and its invite").click()
            await page.get_by_role("heading", name="There is a problem").wait_for()
            violations["new review, errors"] = await axe_violations(page)
            assert await fits_the_width(page)
            await page.get_by_label("First name", exact=True).fill("Sam")
            await page.get_by_label("Age", exact=True).fill("14")
            day = date.today() + timedelta(days=30)
            await page.get_by_label("Date", exact=True).fill(day.isoformat())
            await page.get_by_label("Start time").fill("10:00")
            await page.get_by_role("button", name="Make the review and its invite").click()
            await page.get_by_role("heading", name="Invite for Sam").wait_for()
            violations["invite"] = await axe_violations(page)
            await page.screenshot(path=str(tmp_path / "invite-phone.png"), full_page=True)
            assert await fits_the_width(page)
            code = (await page.locator(".invite-card .code").text_content() or "").strip()
            # Printed, the card alone.
            await page.emulate_media(media="print")
            assert not await page.locator("h1").is_visible()
            assert not await page.locator("header").is_visible()
            assert await page.locator(".invite-card .qr").is_visible()
            await page.emulate_media(media="screen")

            chat = new_chat("sms")
            await chat.start()
            await chat.say(code)
            await finish(chat, parts)
            await page.goto(f"{base}/staff")
            await page.get_by_text("Sent", exact=True).wait_for()
            await page.get_by_role("link", name="Sam").click()
            await page.get_by_role("button", name="Mark as read").wait_for()
            violations["review, to mark read"] = await axe_violations(page)
            since = len(conn.sent)
            await page.get_by_role("button", name="Mark as read").click()
            await page.get_by_text("Marked as read.").wait_for()
            for _ in range(250):
                if conn.sent[since:]:
                    break
                await page.wait_for_timeout(20)
            assert "Your IRO, Jo Smith, has read your answers" in conn.sent[since]["text"]
            await page.get_by_role("link", name="Change the date, place or IRO").click()
            await page.get_by_role("heading", name="What the child has been told").wait_for()
            violations["change"] = await axe_violations(page)
            await page.screenshot(path=str(tmp_path / "change-phone.png"), full_page=True)
            assert await fits_the_width(page)
            await page.goto(f"{base}/staff")
            await page.get_by_text("Read", exact=True).wait_for()
        finally:
            await page.screenshot(path=str(tmp_path / "last.png"), full_page=True)
            await context.close()
    assert all(v == [] for v in violations.values()), json.dumps(violations)


async def test_an_iro_signs_in_with_microsoft_in_a_real_browser(staff_client, tmp_path):
    """The whole round trip through a fake Entra tenant on localhost: the button, Microsoft's
    authorize page (which signs the person in at once), back through the callback, the board."""
    require_browser_deps()
    entra = await FakeEntra().start()
    try:
        client, parts = await staff_client(**entra.settings())
        await make_staff(parts, email=JO, role="iro", name="Jo Smith", password=None)
        entra.person = Person(oid="5c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f", email=JO)
        base = str(client.make_url("/")).rstrip("/")
        async with async_playwright() as p:
            browser = await p.chromium.launch(
                executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
            )
            page = await browser.new_page(bypass_csp=True)
            try:
                await page.goto(f"{base}/staff/sign-in")
                assert await axe_violations(page) == []
                await page.get_by_role(
                    "link", name="Sign in with your council Microsoft account"
                ).click()
                await page.wait_for_url(f"{base}/staff")
                await page.get_by_role("heading", name="My reviews").wait_for()
                assert "Signed in as Jo Smith (IRO)" in await page.content()
            finally:
                await page.screenshot(path=str(tmp_path / "entra-last.png"))
                await browser.close()
    finally:
        await entra.close()
    assert [e.details for e in await audit_rows(parts, "sign_in")] == [{"method": "entra"}]
