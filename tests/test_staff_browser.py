"""An IRO signs in on a phone-sized Chromium and reads a child's answers; axe-core finds no
accessibility violations on the pages on the way (sign-in, home, the review)."""

from __future__ import annotations

import json
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
