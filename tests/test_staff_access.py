"""Who reaches what: an IRO their own reviews (and never another's: 404, as for one that does
not exist), the duty team every alert and the reviews alerts belong to, participation and
admins no child's words. Every reading of a child's words leaves an audit row."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.consult import wait_for_eml
from tests.staff import (
    audit_rows,
    hidden,
    make_staff,
    sign_in,
    signed_in,
)

WORDS = "Zanzibar-Marigold <b>bold</b>"
JO = "jo.smith@council.example"
PAT = "pat.lee@council.example"


async def _chat_with_words_and_an_alert(linked_chat, settings):
    """Sam's review (IRO Jo): linked, an answer in the child's words, and an alert."""
    review, chat = await linked_chat(first_name="Sam", iro_email="Jo.Smith@Council.example")
    await chat.say("English")
    await chat.say(WORDS)
    await chat.say("he hits me Worry-Words")
    await wait_for_eml(settings.outbox_dir)
    return review, chat


async def test_an_iro_sees_their_own_reviews_progress_and_reads_only_theirs(
    client, parts, settings, linked_chat, new_review
):
    sam, _ = await _chat_with_words_and_an_alert(linked_chat, settings)
    alex, _ = await new_review(first_name="Alex", iro_email=JO)
    kim, _ = await new_review(first_name="Kim", iro_email=JO)
    await parts.repos.reviews.mark_submitted(review_id=kim.id, at=datetime.now(UTC))
    other, _ = await new_review(first_name="Robin", iro_email=PAT, iro_name="Pat Lee")
    await make_staff(parts, email=JO, role="iro", name="Jo Smith")
    await make_staff(parts, email=PAT, role="iro", name="Pat Lee")

    await signed_in(client, JO)
    board = await (await client.get("/staff")).text()
    assert "3 reviews" in board and "1 with alerts no one has acknowledged" in board
    assert "Sam" in board and "Alex" in board and "Kim" in board and "Robin" not in board
    assert "Invited" in board and "Sent" in board and "1 open alert" in board
    assert "Answering (" in board and " of " in board
    assert "Zanzibar" not in board  # the board holds no child's words
    # Sam's card comes first: it has an open alert.
    assert board.index("Sam") < board.index("Alex")

    page = await client.get(f"/staff/reviews/{sam.id}")
    html = await page.text()
    assert page.status == 200
    # The child's words, escaped: shown as typed, never as markup.
    assert "Zanzibar-Marigold &lt;b&gt;bold&lt;/b&gt;" in html and "<b>bold" not in html
    assert "To do before the review" in html and "SAFEGUARDING alert" in html
    viewed = await audit_rows(parts, "review.viewed")
    assert [(e.review_id, e.details["role"]) for e in viewed] == [(sam.id, "iro")]

    # Another IRO's review, and one that does not exist: the same 404, and nothing audited.
    theirs = await client.get(f"/staff/reviews/{other.id}")
    missing = await client.get("/staff/reviews/999999")
    assert theirs.status == missing.status == 404
    assert (await theirs.text()) == (await missing.text())
    assert len(await audit_rows(parts, "review.viewed")) == 1
    for path in ("/staff/reviews/99999999999", "/staff/reviews/-1", "/staff/reviews/x"):
        assert (await client.get(path)).status == 404
    # Nor can an IRO open an admin page, or acknowledge an alert (the duty team's).
    assert (await client.get("/staff/admin/staff")).status == 404


async def test_the_duty_team_owns_every_alert_and_reads_the_reviews_they_belong_to(
    client, parts, settings, linked_chat, new_review, second_browser
):
    sam, _ = await _chat_with_words_and_an_alert(linked_chat, settings)
    quiet, _ = await new_review(first_name="Quiet", iro_email=JO)
    await make_staff(parts, email="duty@council.example", role="duty", name="Dee Duty")
    await make_staff(parts, email=JO, role="iro", name="Jo Smith")
    csrf = await signed_in(client, "duty@council.example")
    board = await (await client.get("/staff")).text()
    assert "1 open (1 not taken by anyone), 0 closed" in board and "Worry-Words" not in board
    (alert,) = [a for a in await parts.repos.alerts.for_review(review_id=sam.id)]

    page = await client.get(f"/staff/alerts/{alert.id}")
    html = await page.text()
    assert "Worry-Words" in html and "Acknowledge" in html and alert.conversation_id in html
    assert (await audit_rows(parts, "alert.viewed"))[0].details == {
        "alert": alert.id,
        "role": "duty",
    }
    # The review the alert belongs to: yes. A review with no alert: not found.
    assert (await client.get(f"/staff/reviews/{sam.id}")).status == 200
    assert (await client.get(f"/staff/reviews/{quiet.id}")).status == 404

    # Acknowledging needs the session's CSRF token; then it is recorded once, with a note.
    refused = await client.post(f"/staff/alerts/{alert.id}/acknowledge", data={"note": "x"})
    assert refused.status == 403
    assert (await parts.repos.alerts.get(alert_id=alert.id)).acknowledged_at is None
    note = "Rang the carer; social worker visiting today"
    done = await client.post(
        f"/staff/alerts/{alert.id}/acknowledge", data={"csrf": csrf, "note": note}
    )
    assert "Alert acknowledged." in await done.text()
    stored = await parts.repos.alerts.get(alert_id=alert.id)
    (entry,) = await parts.repos.alerts.history(alert_id=alert.id)
    assert stored.acknowledged_by is not None and (entry.action, entry.note) == (
        "acknowledged",
        note,
    )
    again = await client.post(
        f"/staff/alerts/{alert.id}/acknowledge", data={"csrf": csrf, "note": "me too"}
    )
    assert "Someone acknowledged this alert before you" in await again.text()
    (ack,) = await audit_rows(parts, "alert.acknowledged")
    assert ack.review_id == sam.id and ack.details["alert"] == alert.id and ack.details["note"]
    assert note not in str(ack.details)  # the note stays with the alert, not in the trail
    board = await (await client.get("/staff")).text()
    assert "1 open (0 not taken by anyone)" in board and "Acknowledged by Dee Duty" in board
    too_long = await client.post(
        f"/staff/alerts/{alert.id}/acknowledge", data={"csrf": csrf, "note": "x" * 2001}
    )
    assert too_long.status == 400
    assert (
        await client.post("/staff/alerts/999999/acknowledge", data={"csrf": csrf})
    ).status == 404

    # The IRO sees it acknowledged on the alert page, but has no button: it is the duty team's.
    await signed_in(second_browser, JO)
    iro_view = await (await second_browser.get(f"/staff/alerts/{alert.id}")).text()
    assert "Worry-Words" in iro_view and "Acknowledged by Dee Duty" in iro_view
    assert "/acknowledge" not in iro_view
    post = await second_browser.post(
        f"/staff/alerts/{alert.id}/acknowledge", data={"csrf": hidden(iro_view, "csrf")}
    )
    assert post.status == 404


async def test_participation_and_admins_read_no_childs_words(
    client, parts, settings, linked_chat, second_browser
):
    sam, _ = await _chat_with_words_and_an_alert(linked_chat, settings)
    (alert,) = await parts.repos.alerts.for_review(review_id=sam.id)
    await make_staff(parts, email="part@council.example", role="participation")
    await make_staff(parts, email="admin@council.example", role="admin")
    for who, browser in (
        ("part@council.example", client),
        ("admin@council.example", second_browser),
    ):
        await signed_in(browser, who)
        home = await (await browser.get("/staff")).text()
        assert "Zanzibar" not in home and "Worry-Words" not in home
        for path in (f"/staff/reviews/{sam.id}", f"/staff/alerts/{alert.id}"):
            response = await browser.get(path)
            assert response.status == 404
            assert "Zanzibar" not in await response.text()
    assert await audit_rows(parts, "review.viewed") == []
    assert await audit_rows(parts, "alert.viewed") == []


async def test_admins_add_staff_with_a_set_up_link_and_deactivate_them(
    client, parts, second_browser
):
    admin, _ = await make_staff(parts, email="admin@council.example", role="admin", name="Ada")
    pat, _ = await make_staff(parts, email=PAT, role="iro", name="Pat Lee")
    await signed_in(second_browser, PAT)
    csrf = await signed_in(client, "admin@council.example")
    page = await client.post(
        "/staff/admin/staff",
        data={
            "csrf": csrf,
            "email": "New.Person@council.example",
            "display_name": "New <i>P",
            "role": "duty",
        },  # fmt: skip
    )
    html = await page.text()
    assert "Account made for New &lt;i&gt;P" in html and "/staff/set-up?token=" in html
    assert (await parts.repos.staff.by_email(email="new.person@council.example")).role == "duty"
    dup = await client.post(
        "/staff/admin/staff",
        data={
            "csrf": csrf,
            "email": "new.person@council.example",
            "display_name": "X",
            "role": "iro",
        },  # fmt: skip
    )
    assert dup.status == 400 and "already an account" in await dup.text()
    bad = await client.post(
        "/staff/admin/staff",
        data={"csrf": csrf, "email": "nope", "display_name": "", "role": "king"},
    )
    text = await bad.text()
    assert (
        bad.status == 400 and "must be an email address" in text and "role must be one of" in text
    )

    gone = await client.post(f"/staff/admin/staff/{pat.id}/deactivate", data={"csrf": csrf})
    assert "deactivated and its sessions ended" in await gone.text()
    # Pat's open session is over, and Pat cannot sign in again.
    assert (await second_browser.get("/staff")).url.path == "/staff/sign-in"
    second_browser.cookie_jar.clear()
    assert (await sign_in(second_browser, PAT)).status == 401
    own = await client.post(f"/staff/admin/staff/{admin.id}/deactivate", data={"csrf": csrf})
    assert own.status == 400 and "cannot deactivate your own account" in await own.text()
    assert (
        await client.post("/staff/admin/staff/4242/deactivate", data={"csrf": csrf})
    ).status == 404
    actions = [e.action for e in await audit_rows(parts)]
    assert "staff.added" in actions and "staff.deactivated" in actions
    home = await (await client.get("/staff")).text()
    assert "staff.deactivated" in home  # admins read the trail


async def test_signed_out_every_page_asks_to_sign_in(client, parts):
    for path in ("/staff", "/staff/reviews/1", "/staff/alerts/1", "/staff/admin/staff"):
        response = await client.get(path, allow_redirects=False)
        assert response.status == 303 and response.headers["Location"] == "/staff/sign-in"
    post = await client.post("/staff/sign-out", allow_redirects=False)
    assert post.status == 303
