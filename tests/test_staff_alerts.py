"""Alerts that someone owns (issue 18, part 3): a child's disclosure reaches the duty board as
new; someone takes it, acknowledges it, records what was done and closes it, each step in its
history and in the audit trail; the rest of the team sees who owns it. What the child said next
moves with its alert. The IRO of the review reads it and adds notes; the duty team owns its
state. A form sent from an alert that has changed since, or a step its state does not allow,
is refused with the reason and changes nothing."""

from __future__ import annotations

import html
import re

from tests.consult import wait_for_eml
from tests.staff import audit_rows, hidden, make_staff, signed_in

JO = "jo.smith@council.example"
DEE = "dee@council.example"
PAT = "pat@council.example"
WORRY = "he hits me Worry-Words"


async def _disclosure(linked_chat, settings):
    review, chat = await linked_chat(first_name="Sam", iro_email=JO)
    await chat.say("English")
    await chat.say(WORRY)
    await wait_for_eml(settings.outbox_dir)
    return review, chat


async def step(browser, alert_id: int, name: str, page: str, **form: str):
    """Sends one of the alert page's forms as the page had it (CSRF, the state and owner it
    showed), with `form` filled in."""
    data = {
        "csrf": hidden(page, "csrf"),
        "state": hidden(page, "state"),
        "owner": hidden(page, "owner"),
        **form,
    }
    return await browser.post(f"/staff/alerts/{alert_id}/{name}", data=data)


def history(page: str) -> list[str]:
    """The history list, each entry as one line of text."""
    found = re.search(r'<ol class="history">(.*?)</ol>', page, re.S)
    assert found, "no history on the page"
    items = re.findall(r"<li>(.*?)</li>", found.group(1), re.S)
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", i)).strip() for i in items]


async def test_a_disclosure_is_owned_acknowledged_acted_on_and_closed_with_its_history(
    client, parts, settings, linked_chat, second_browser
):
    review, _ = await _disclosure(linked_chat, settings)
    await make_staff(parts, email=DEE, role="duty", name="Dee Duty")
    await make_staff(parts, email=PAT, role="duty", name="Pat Lee")
    await signed_in(client, DEE)

    # The duty board: new, not taken, how long it has waited, nothing of the child's words.
    board = await (await client.get("/staff?queue=unowned")).text()
    (alert,) = await parts.repos.alerts.for_review(review_id=review.id)
    assert f"Alert {alert.id}: being hurt" in board and "Not taken (1)" in board
    assert "New" in board and "min ago" in board and "Worry-Words" not in board
    assert "Waiting longest" in board

    page = await (await client.get(f"/staff/alerts/{alert.id}")).text()
    assert WORRY in page and "No one has taken it" in page
    assert "Childline" in page  # what the child was told: the help, as the chat said it

    # Closing an alert no one has acknowledged is refused, with the reason; nothing changes.
    refused = await step(client, alert.id, "close", page, note="Nothing to do")
    assert refused.status == 400
    assert "acknowledge it first" in await refused.text()
    assert (await parts.repos.alerts.get(alert_id=alert.id)).state == "new"

    taken = await step(client, alert.id, "take", page)
    page = await taken.text()
    assert "You own this alert now." in page and "Owner</dt><dd>Dee Duty" in page

    # Pat, also on duty, sees who owns it; it is in no one's "not taken" queue now.
    await signed_in(second_browser, PAT)
    pats = await (await second_browser.get("/staff?queue=open")).text()
    assert "Owner: Dee Duty" in pats
    assert (
        "There are no alerts here."
        in await (await second_browser.get("/staff?queue=unowned")).text()
    )
    assert (
        "There are no alerts here." in await (await second_browser.get("/staff?queue=mine")).text()
    )
    assert f"Alert {alert.id}" in await (await client.get("/staff?queue=mine")).text()
    stale = await (await second_browser.get(f"/staff/alerts/{alert.id}")).text()

    page = await (await step(client, alert.id, "acknowledge", page, note="Rang the carer")).text()
    assert "Alert acknowledged." in page
    # An action needs its note.
    empty = await step(client, alert.id, "action", page, note="  ")
    assert empty.status == 400 and "Write what was done" in await empty.text()
    page = await (
        await step(client, alert.id, "action", page, note="Social worker visited; Sam is safe")
    ).text()
    assert "Action recorded." in page
    page = await (
        await step(client, alert.id, "close", page, note="Strategy discussion held")
    ).text()
    assert "Alert closed." in page
    lines = history(page)
    assert "MyReview: Raised the alert" in lines[0]
    assert "Dee Duty: Took it: owner Dee Duty" in lines[1]
    assert "Dee Duty: Acknowledged it (now acknowledged) Rang the carer" in lines[2]
    assert "Dee Duty: Recorded an action (now action recorded) Social worker visited" in lines[3]
    assert "Dee Duty: Closed it (now closed) Strategy discussion held" in lines[4]
    actions = [e.action for e in await audit_rows(parts) if e.action.startswith("alert.")]
    assert [a for a in actions if a != "alert.viewed"] == [
        "alert.taken",
        "alert.acknowledged",
        "alert.action",
        "alert.closed",
    ]
    for row in await audit_rows(parts):
        assert "Rang the carer" not in str(row.details)  # notes stay with the alert, sealed

    # Pat's page was read before all that: the form it sends is refused, nothing saved.
    late = await step(second_browser, alert.id, "action", stale, note="Me too")
    assert late.status == 409
    assert "Someone changed this alert while you were reading it" in await late.text()
    assert "Me too" in await late.text()  # what Pat typed is kept in the form
    assert len(await parts.repos.alerts.history(alert_id=alert.id)) == 4

    closed = await (await second_browser.get("/staff?queue=closed")).text()
    assert f"Alert {alert.id}" in closed and "Closed" in closed
    assert (
        "There are no alerts here." in await (await second_browser.get("/staff?queue=open")).text()
    )

    # Opened again, with why; then a note.
    page = await (await second_browser.get(f"/staff/alerts/{alert.id}")).text()
    page = await (
        await step(second_browser, alert.id, "reopen", page, note="Sam rang again")
    ).text()
    assert "Alert opened again." in page
    assert (await parts.repos.alerts.get(alert_id=alert.id)).state == "acknowledged"
    # Pat takes it from Dee, then gives it back.
    page = await (await step(second_browser, alert.id, "take", page)).text()
    assert "Owner</dt><dd>Pat Lee" in page
    dee = await parts.repos.staff.by_email(email=DEE)
    page = await (await step(second_browser, alert.id, "assign", page, to=str(dee.id))).text()
    assert "Owner</dt><dd>Dee Duty" in page and "Assigned it: owner Dee Duty" in page
    nobody = await step(second_browser, alert.id, "assign", page, to="4242")
    assert nobody.status == 400 and "Choose someone on the duty team" in await nobody.text()


async def test_the_iro_reads_their_own_reviews_alerts_and_adds_notes_but_owns_no_state(
    client, parts, settings, linked_chat, new_chat, second_browser
):
    review, _ = await _disclosure(linked_chat, settings)
    (alert,) = await parts.repos.alerts.for_review(review_id=review.id)
    await make_staff(parts, email=JO, role="iro", name="Jo Smith")
    await make_staff(parts, email="robin@council.example", role="iro", name="Robin")
    await make_staff(parts, email=DEE, role="duty", name="Dee Duty")
    # A chat that never entered a code: the duty team's alone.
    stranger = new_chat("webchat", user_id="no-code")
    await stranger.start()
    await stranger.say("my stepdad hurts me")
    pre_code = [
        a for a in await parts.repos.alerts.since(since=alert.created_at) if a.review_id is None
    ]
    assert len(pre_code) == 1

    csrf = await signed_in(client, JO)
    page = await (await client.get(f"/staff/alerts/{alert.id}")).text()
    assert WORRY in page and "/take" not in page and "/acknowledge" not in page
    assert "/close" not in page and "/note" in page
    for name in ("take", "acknowledge", "action", "close", "reopen", "assign"):
        response = await step(client, alert.id, name, page, note="x")
        assert response.status == 404, name
    noted = await step(client, alert.id, "note", page, note="Sam's mum is visiting on Fridays")
    html = await noted.text()
    assert "Note added." in html and "Jo Smith: Added a note Sam" in " ".join(history(html))
    assert (await parts.repos.alerts.get(alert_id=alert.id)).state == "new"
    (row,) = await audit_rows(parts, "alert.note")
    assert row.details["role"] == "iro" and row.review_id == review.id
    # Without the session's CSRF token: refused, nothing saved.
    forged = await client.post(f"/staff/alerts/{alert.id}/note", data={"note": "forged"})
    assert forged.status == 403
    assert len(await parts.repos.alerts.history(alert_id=alert.id)) == 1
    # Not their review's alert, nor one with no review: not found, as for one that is not there.
    assert (await client.get(f"/staff/alerts/{pre_code[0].id}")).status == 404
    refused = await client.post(
        f"/staff/alerts/{pre_code[0].id}/note", data={"csrf": csrf, "note": "x"}
    )
    assert refused.status == 404

    await signed_in(second_browser, "robin@council.example")
    assert (await second_browser.get(f"/staff/alerts/{alert.id}")).status == 404

    # The duty team's board has the chat with no code in it, not taken, marked as such.
    second_browser.cookie_jar.clear()
    await signed_in(second_browser, DEE)
    board = await (await second_browser.get("/staff?queue=unowned")).text()
    assert f"Alert {pre_code[0].id}" in board and "No review yet" in board
    assert "Not taken (2)" in board
    page = await (await second_browser.get(f"/staff/alerts/{pre_code[0].id}")).text()
    assert "my stepdad hurts me" in page and "the duty team" in page
    page = await (await step(second_browser, pre_code[0].id, "take", page)).text()
    assert "You own this alert now." in page


async def test_what_the_child_says_next_moves_with_its_alert_and_reopens_it_if_closed(
    client, parts, settings, linked_chat
):
    review, chat = await _disclosure(linked_chat, settings)
    await chat.say("he hits me again")  # the same worry, minutes later: kept with the first
    lead, follower = sorted(
        await parts.repos.alerts.for_review(review_id=review.id), key=lambda a: a.id
    )
    assert follower.merged_into == lead.id
    await make_staff(parts, email=DEE, role="duty", name="Dee Duty")
    await signed_in(client, DEE)
    board = await (await client.get("/staff")).text()
    assert "All open (1)" in board and "1 more message kept with it" in board
    # The message kept with it is read on its alert's page.
    moved = await client.get(f"/staff/alerts/{follower.id}", allow_redirects=False)
    assert moved.headers["Location"] == f"/staff/alerts/{lead.id}#m{follower.id}"
    page = await (await client.get(f"/staff/alerts/{lead.id}")).text()
    assert "he hits me again" in page and "the same worry again" in page

    page = await (await step(client, lead.id, "acknowledge", page)).text()
    assert (await parts.repos.alerts.get(alert_id=follower.id)).state == "acknowledged"
    page = await (await step(client, lead.id, "close", page, note="Done")).text()
    assert (await parts.repos.alerts.get(alert_id=follower.id)).state == "closed"

    # Sam writes again: the alert is open again, with its owner, and says why.
    await chat.say("he hits me every day")
    assert (await parts.repos.alerts.get(alert_id=lead.id)).state == "acknowledged"
    page = await (await client.get(f"/staff/alerts/{lead.id}")).text()
    assert "MyReview: Opened it again: the child wrote more after it was closed" in " ".join(
        history(page)
    )
    assert "Owner</dt><dd>Dee Duty" in page and "he hits me every day" in page
    (reopened,) = await audit_rows(parts, "alert.reopened")
    assert reopened.staff_id is None and reopened.details["alert"] == lead.id
    assert (await parts.repos.audit.verify()).ok


async def test_the_upgrade_keeps_acknowledgements_and_the_history_is_append_only(tmp_path):
    from alembic import command
    from sqlalchemy import text as sql
    from sqlalchemy.exc import DBAPIError

    from storage.crypto import Keyring
    from storage.db import Database, alembic_config

    def upgrade_to(revision: str):
        def run(connection):
            cfg = alembic_config()
            cfg.attributes["connection"] = connection
            command.upgrade(cfg, revision)

        return run

    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'old.db'}", keys=Keyring.ephemeral())
    async with db.engine.begin() as conn:
        await conn.run_sync(upgrade_to("0012"))
        insert = (
            "INSERT INTO safeguardingalert (id, categories, channel_id, conversation_id, "
            "locale, message, created_at, tier, email, merged_into, acknowledged_at, "
            "acknowledged_by) VALUES (:id, '[]', 'msteams', 'c', 'en', 'words', "
            "'2026-12-01 10:00:00.000000', 'clear', 'own', :lead, :at, :by)"
        )
        at = "2026-12-01 11:00:00.000000"
        await conn.execute(sql(insert), {"id": 1, "lead": None, "at": at, "by": 7})
        await conn.execute(sql(insert), {"id": 2, "lead": 1, "at": None, "by": None})
        await conn.execute(sql(insert), {"id": 3, "lead": None, "at": None, "by": None})
    await db.migrate()
    async with db.engine.begin() as conn:
        rows = (
            await conn.execute(
                sql("SELECT id, state, owner_id, escalations FROM safeguardingalert ORDER BY id")
            )
        ).all()
        # Acknowledged before there were states: acknowledged, owned by who did it; what was
        # kept with it, the same; one no one acknowledged is new (and escalates as any other).
        assert [tuple(r) for r in rows] == [
            (1, "acknowledged", 7, 0),
            (2, "acknowledged", 7, 0),
            (3, "new", None, 0),
        ]
        await conn.execute(
            sql(
                "INSERT INTO alerthistory (alert_id, at, staff_id, action, state, note) "
                "VALUES (3, '2026-12-01 12:00:00.000000', 7, 'note', 'new', 'sealed')"
            )
        )
        # The note can be sealed anew (keys rotate); nothing else in a history row changes.
        await conn.execute(sql("UPDATE alerthistory SET note = 'resealed'"))
    for change in ("UPDATE alerthistory SET action = 'closed'", "UPDATE alerthistory SET at = at"):
        async with db.engine.begin() as conn:
            try:
                await conn.execute(sql(change))
            except DBAPIError as exc:
                assert "append-only" in str(exc)
            else:
                raise AssertionError(f"{change} was not refused")
    await db.dispose()


async def test_whatever_a_form_sends_the_answer_is_a_page_never_a_failure(
    client, parts, settings, linked_chat
):
    review, _ = await _disclosure(linked_chat, settings)
    (alert,) = await parts.repos.alerts.for_review(review_id=review.id)
    await make_staff(parts, email=DEE, role="duty", name="Dee Duty")
    csrf = await signed_in(client, DEE)
    odd = ["", "zzz", "-1", "9" * 12, "<b>", "\u202e", "x" * 5000]
    for name in ("take", "assign", "acknowledge", "action", "close", "reopen", "note"):
        for value in odd:
            response = await client.post(
                f"/staff/alerts/{alert.id}/{name}",
                data={"csrf": csrf, "state": value, "owner": value, "to": value, "note": value},
            )
            assert response.status in (200, 400, 409), (name, value, response.status)
            assert "<b>" not in await response.text()
    # Notes keep no character that reverses or hides the text around it.
    assert all(
        "\u202e" not in (h.note or "") for h in await parts.repos.alerts.history(alert_id=alert.id)
    )
    # Not a form at all.
    raw = await client.post(
        f"/staff/alerts/{alert.id}/note",
        data=b"\xff\xfe",
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
    )
    assert raw.status in (400, 403)
    # An id past any there is, or not a number: not found.
    assert (await client.post("/staff/alerts/999999999/note", data={"csrf": csrf})).status == 404
    assert (await client.post("/staff/alerts/x/note", data={"csrf": csrf})).status == 404


async def test_participation_and_admins_can_do_nothing_to_an_alert(
    client, parts, settings, linked_chat
):
    review, _ = await _disclosure(linked_chat, settings)
    (alert,) = await parts.repos.alerts.for_review(review_id=review.id)
    await make_staff(parts, email=DEE, role="duty", name="Dee Duty")
    for role in ("participation", "admin"):
        email = f"{role}@council.example"
        await make_staff(parts, email=email, role=role)
        client.session.cookie_jar.clear()
        csrf = await signed_in(client, email)
        for name in ("take", "acknowledge", "close", "note"):
            response = await client.post(
                f"/staff/alerts/{alert.id}/{name}", data={"csrf": csrf, "note": "x"}
            )
            assert response.status == 404, (role, name)
            assert WORRY not in await response.text()
    client.session.cookie_jar.clear()
    await signed_in(client, DEE)
    # The duty team's forms need the session's CSRF token too.
    forged = await client.post(f"/staff/alerts/{alert.id}/take", data={"state": "new"})
    assert forged.status == 403
    stored = await parts.repos.alerts.get(alert_id=alert.id)
    assert (stored.state, stored.owner_id) == ("new", None)
    assert await parts.repos.alerts.history(alert_id=alert.id) == []


async def test_each_refused_step_says_why_and_saves_nothing(client, parts, settings, linked_chat):
    """Taking what you own, giving it to someone not on duty or to its owner, a note too long,
    acknowledging twice: each is answered on the page, and the history does not move."""
    review, _ = await _disclosure(linked_chat, settings)
    (alert,) = await parts.repos.alerts.for_review(review_id=review.id)
    await make_staff(parts, email=DEE, role="duty", name="Dee Duty")
    await make_staff(parts, email=JO, role="iro", name="Jo Smith")
    dee = await parts.repos.staff.by_email(email=DEE)
    jo = await parts.repos.staff.by_email(email=JO)
    await signed_in(client, DEE)
    page = await (await client.get(f"/staff/alerts/{alert.id}")).text()
    page = await (await step(client, alert.id, "take", page)).text()
    before = len(await parts.repos.alerts.history(alert_id=alert.id))

    again = await step(client, alert.id, "take", page)
    assert "done=yours" in str(again.url)
    to_iro = await step(client, alert.id, "assign", page, to=str(jo.id))
    assert to_iro.status == 400 and "Choose someone on the duty team" in await to_iro.text()
    to_owner = await step(client, alert.id, "assign", page, to=str(dee.id))
    assert to_owner.status == 400
    assert "Dee Duty's already" in html.unescape(await to_owner.text())
    long = await step(client, alert.id, "acknowledge", page, note="x" * 2001)
    assert long.status == 400 and "Keep the note to 2000 characters" in await long.text()
    assert len(await parts.repos.alerts.history(alert_id=alert.id)) == before

    page = await (await step(client, alert.id, "acknowledge", page, note="Rang")).text()
    twice = await step(client, alert.id, "acknowledge", page, note="Rang again")
    assert "done=already" in str(twice.url)
    assert len(await parts.repos.alerts.history(alert_id=alert.id)) == before + 1
