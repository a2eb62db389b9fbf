"""The summary page (/staff/reviews/{id}/summary): the to-do box first, the answers by
section, what changed after the first sending, what the child kept for their IRO alone (for
the IRO only), a plain-text copy for the case record, and a print stylesheet. It reads the
email's view model, so the page, the email and the copy agree; every view is audited."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.consult import wait_for_eml
from tests.staff import audit_rows, make_staff, signed_in

JO = "jo.smith@council.example"
KEPT = "my uncle Zed & his dog"


async def save(parts, review_id: int, qid: str, kind: str, value, vis: str = "") -> None:
    await parts.repos.answers.save(
        review_id=review_id, question_id=qid, kind=kind, value=value, locale="en"
    )
    if vis:
        await parts.repos.answers.set_visibility(
            review_id=review_id, question_ids=[qid], visibility=vis
        )


async def send(parts, review_id: int, *, updated: bool) -> None:
    """What the chat's Send does: count it, queue the summary (both in one transaction)."""
    async with parts.repos.db.unit_of_work():
        await parts.repos.reviews.mark_submitted(review_id=review_id, at=datetime.now(UTC))
        await parts.services.notifier.summary(review_id=review_id, updated=updated)


async def sent_and_changed(linked_chat, parts, settings):
    """Sam's review (IRO Jo), with an alert: sent as "Sammy", sent again as "Sam", then
    changed to "Samuel" and not sent; one answer kept for the IRO alone."""
    review, chat = await linked_chat(first_name="Sam", iro_email=JO)
    await chat.say("English")
    await chat.say("he hits me")  # an alert: the duty team may read this review
    await wait_for_eml(settings.outbox_dir)
    rid = review.id
    await save(parts, rid, "name", "text", "Sammy", vis="everyone")
    await save(parts, rid, "talk_to_iro", "yesno", True)
    await save(parts, rid, "who_not_there", "text", KEPT, vis="iro")
    await send(parts, rid, updated=False)
    await save(parts, rid, "name", "text", "Sam", vis="everyone")
    await send(parts, rid, updated=True)
    await save(parts, rid, "name", "text", "Samuel", vis="everyone")
    return review


async def test_the_iro_reads_the_summary_in_order_with_its_history_and_a_copy(
    client, parts, settings, linked_chat
):
    review = await sent_and_changed(linked_chat, parts, settings)
    await make_staff(parts, email=JO, role="iro", name="Jo Smith")
    await signed_in(client, JO)
    # The review page leads to it.
    page = await (await client.get(f"/staff/reviews/{review.id}")).text()
    assert f'href="/staff/reviews/{review.id}/summary"' in page

    response = await client.get(f"/staff/reviews/{review.id}/summary")
    html = await response.text()
    assert response.status == 200
    order = [
        "To do before the review",
        "Talk to them on their own before the review",
        "The review meeting",
        "What changed after they first sent it",
        "Just for the IRO (not to be read out at the meeting)",
        "Copy for the case record",
    ]
    assert [html.index(h) for h in order] == sorted(html.index(h) for h in order)
    history = html.split("What changed after they first sent it")[1].split("Just for the IRO")[0]
    assert "First sent on" in history and "Sent again on" in history
    assert "Sammy → Sam" in history  # what the update told the IRO
    assert "Changed since, and not sent yet" in history and "Sam → Samuel" in history
    # Kept for the IRO: in its own section, pointed to (not quoted) by the to-do box.
    kept = html.split("Just for the IRO (not to be read out")[1].split("Copy for the case")[0]
    assert "my uncle Zed &amp; his dog" in kept
    assert html.count("my uncle Zed") == 2  # the section, and the copy for the case record
    # The copy: the email's plain text, in a read-only box; no script on the page.
    copy = html.split('<textarea id="case-record"')[1].split("</textarea>")[0]
    assert "readonly" in copy and "MY REVIEW CONSULTATION" in copy
    assert "TO DO BEFORE THE REVIEW" in copy and "my uncle Zed &amp; his dog" in copy
    assert "UPDATED" not in copy and "first sent on" in copy
    assert "<script" not in html and "script-src" not in response.headers["Content-Security-Policy"]
    # Each view audited, as the review page's is.
    (viewed,) = await audit_rows(parts, "summary.viewed")
    assert viewed.review_id == review.id and viewed.details["role"] == "iro"
    # Printed, the navigation and the copy box are left out.
    css = await (await client.get("/staff/static/staff.css")).text()
    assert "@media print" in css and ".no-print" in css.split("@media print")[1]


async def test_the_duty_team_reads_it_through_an_alert_but_not_what_was_kept_for_the_iro(
    client, parts, settings, linked_chat, new_review
):
    review = await sent_and_changed(linked_chat, parts, settings)
    quiet, _ = await new_review(first_name="Quiet", iro_email=JO)
    await make_staff(parts, email="duty@council.example", role="duty", name="Dee Duty")
    await make_staff(parts, email="pat.lee@council.example", role="iro", name="Pat Lee")

    await signed_in(client, "duty@council.example")
    html = await (await client.get(f"/staff/reviews/{review.id}/summary")).text()
    assert "To do before the review" in html and "Sammy → Sam" in html
    assert "my uncle Zed" not in html
    assert "1 answer they kept for their IRO alone is not shown to you" in html
    # So on the review page too.
    review_page = await (await client.get(f"/staff/reviews/{review.id}")).text()
    assert "my uncle Zed" not in review_page and "not shown to you" in review_page
    # A review with no alert is not the duty team's to read.
    assert (await client.get(f"/staff/reviews/{quiet.id}/summary")).status == 404

    client.session.cookie_jar.clear()
    await signed_in(client, "pat.lee@council.example")
    theirs = await client.get(f"/staff/reviews/{review.id}/summary")
    missing = await client.get("/staff/reviews/999999/summary")
    assert theirs.status == missing.status == 404
    assert [e.details["role"] for e in await audit_rows(parts, "summary.viewed")] == ["duty"]


async def test_before_they_send_it_says_so_and_offers_no_copy(client, parts, new_review):
    review, _ = await new_review(first_name="Alex", iro_email=JO)
    await save(parts, review.id, "name", "text", "Alex", vis="everyone")
    await make_staff(parts, email=JO, role="iro", name="Jo Smith")
    await signed_in(client, JO)
    html = await (await client.get(f"/staff/reviews/{review.id}/summary")).text()
    assert "Not sent yet" in html and "may change" in html
    assert "case-record" not in html and "once they send their answers" in html
    assert "What changed after they first sent it" not in html
