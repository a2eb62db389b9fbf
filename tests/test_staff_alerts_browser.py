"""A duty worker on a phone-sized Chromium: the alert board, an alert taken and acknowledged by
its labelled buttons; axe-core finds no accessibility violations on the board or the alert
page, before and after, and both fit the phone's width."""

from __future__ import annotations

import json
from typing import Any

import pytest
from playwright.async_api import async_playwright

from tests.consult import wait_for_eml
from tests.playground import CHROMIUM, CHROMIUM_ARGS, require_browser_deps
from tests.staff import PASSWORD, make_staff
from tests.test_staff_browser import AXE, PHONE, axe_violations, fits_the_width

pytestmark = pytest.mark.browser
DEE = "dee@council.example"


async def test_a_duty_worker_takes_and_acknowledges_an_alert_on_a_phone(
    client, parts, settings, linked_chat, tmp_path
):
    require_browser_deps()
    assert AXE.exists(), "axe-core is missing: run `npm ci`"
    review, chat = await linked_chat(first_name="Sam", iro_email="jo@council.example")
    await chat.say("English")
    await chat.say("he hits me Otter-Lamp")
    await chat.say("he hits me again")
    await wait_for_eml(settings.outbox_dir)
    await make_staff(parts, email=DEE, role="duty", name="Dee Duty")
    await make_staff(parts, email="pat@council.example", role="duty", name="Pat Lee")
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
            await page.get_by_label("Email").fill(DEE)
            await page.get_by_label("Password").fill(PASSWORD)
            await page.get_by_label("Password").press("Enter")
            await page.get_by_role("heading", name="Safeguarding alerts").wait_for()
            violations["board"] = await axe_violations(page)
            assert await fits_the_width(page)
            await page.get_by_role("link", name="Not taken (1)").click()
            await page.get_by_role("link", name="Alert 1: being hurt").click()
            await page.locator(".words", has_text="Otter-Lamp").wait_for()
            violations["alert"] = await axe_violations(page)
            assert await fits_the_width(page)
            await page.get_by_role("button", name="Take it: I own this").click()
            await page.get_by_text("You own this alert now.").wait_for()
            await page.get_by_label("Note (optional)").first.fill("Rang the carer")
            await page.get_by_role("button", name="Acknowledge: I am dealing with this").click()
            await page.get_by_text("Alert acknowledged.").wait_for()
            violations["alert acknowledged"] = await axe_violations(page)
            assert await fits_the_width(page)
            await page.screenshot(path=str(tmp_path / "alert-phone.png"), full_page=True)
            await page.goto(f"{base}/staff?queue=mine")
            await page.get_by_text("Owner: Dee Duty").wait_for()
            violations["board, mine"] = await axe_violations(page)
        finally:
            await page.screenshot(path=str(tmp_path / "last.png"))
            await context.close()
    assert all(v == [] for v in violations.values()), json.dumps(violations)
    (alert,) = [a for a in await parts.repos.alerts.for_review(review_id=review.id) if a.id == 1]
    assert alert.state == "acknowledged"
