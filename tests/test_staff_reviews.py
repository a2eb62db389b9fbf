"""An IRO makes a review in the web, the child links and answers through the bot; the IRO moves
it, gives it to another IRO, makes a new code, cancels it, marks the answers read, and the
child's chat is told each time, in their language, once per device, even across a restart.
Each change is audited; another IRO's review is "not found"; bad input gets a clear error."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, date, datetime, time, timedelta
from html import unescape
from typing import Any

from aiohttp.test_utils import TestClient, TestServer
from babel.dates import format_date

from bot import cli, jobs, reviews
from bot.app import PARTS, build_parts, create_app
from tests.chat import WebChat, words
from tests.conftest import LONDON
from tests.consult import said, text, waiting_key
from tests.staff import audit_rows, hidden, make_staff, signed_in
from tests.test_sending import finish

JO = "jo.smith@council.example"
PAT = "pat.lee@council.example"


def in_days(n: int) -> date:
    return datetime.now(LONDON).date() + timedelta(days=n)


def new_review_form(csrf: str, **overrides: str) -> dict[str, str]:
    form = {
        "csrf": csrf,
        "first_name": "Sam",
        "preferred_name": "",
        "age": "14",
        "date_of_birth": "",
        "case_reference": "LAC-0042",
        "review_date": in_days(14).isoformat(),
        "review_time": "10:00",
        "place": "",
        "language": "",
    }
    form.update(overrides)
    return form


def shown_code(html: str) -> str:
    found = re.search(r'<p class="code" dir="ltr">([2-9A-Z]{3}-[2-9A-Z]{3}-[2-9A-Z]{3})</p>', html)
    assert found, "no invite code on the page"
    return found.group(1)


async def make_in_web(client: TestClient, csrf: str, **overrides: str) -> tuple[int, str, str]:
    """POSTs the new-review form: (review id, the code shown, the page)."""
    response = await client.post("/staff/reviews/new", data=new_review_form(csrf, **overrides))
    html = await response.text()
    assert response.status == 200, html
    review_id = int(re.search(r"/staff/reviews/(\d+)/change", html).group(1))
    return review_id, shown_code(html), html


async def told(connector: Any, chat: Any, since: int, timeout: float = 5.0) -> str:
    """What the bot said to this chat outside its turns since `since` (connector.sent's length
    then): the notice. Fails rather than waits for ever."""
    for _ in range(int(timeout / 0.02)):
        new = [
            a
            for a in connector.sent[since:]
            if a.get("conversation", {}).get("id") == chat.conversation_id
        ]
        if new:
            return "\n".join(words(a) for a in new)
        await asyncio.sleep(0.02)
    raise AssertionError("the chat was told nothing")


async def move(client: TestClient, csrf: str, review_id: int, day: date, at: str, place: str = ""):
    return await client.post(
        f"/staff/reviews/{review_id}/reschedule",
        data={"csrf": csrf, "review_date": day.isoformat(), "review_time": at, "place": place},
    )


async def test_a_review_made_in_the_web_is_linked_moved_and_cancelled_and_the_child_is_told(
    client, parts, connector, new_chat
):
    conn, _ = connector
    jo, _ = await make_staff(parts, email=JO, role="iro", name="Jo Smith")
    csrf = await signed_in(client, JO)
    form = await client.get("/staff/reviews/new")
    form_page = await form.text()
    assert form.status == 200 and "Make the review and its invite" in form_page
    form_id = hidden(form_page, "form_id")

    review_id, code, page = await make_in_web(client, csrf, place="Oak House", form_id=form_id)
    # The code, once: with its QR code, the link, the text to forward and the card to print.
    assert "shown here once" in page and '<svg xmlns="http://www.w3.org/2000/svg"' in page
    assert f"/chat#{code}" in page and "Hi Sam, your IRO would like to hear from you" in page
    assert 'download="invite-card-review-' in page and 'class="invite-card"' in page
    again = await client.get(f"/staff/reviews/{review_id}/change")
    assert code not in await again.text()  # never shown again
    # The page refreshed, the form sent again: no second review, and no code.
    resent = await client.post(
        "/staff/reviews/new", data=new_review_form(csrf, place="Oak House", form_id=form_id)
    )
    html = await resent.text()
    assert resent.status == 409 and f"it made review {review_id}" in html and code not in html
    assert len(await parts.repos.reviews.for_iro(iro_email=JO)) == 1
    (created,) = await audit_rows(parts, "review.created")
    assert (created.staff_id, created.review_id) == (jo.id, review_id)
    review = await parts.repos.reviews.get(review_id=review_id)
    assert (review.iro_email, review.iro_name, review.place) == (JO, "Jo Smith", "Oak House")

    # The child links with the code and answers through the bot.
    chat = new_chat("msteams")
    await chat.start()
    assert said(parts, await chat.say(code), "messages.linked_place")
    await chat.say("English")
    await chat.say("Sammy")
    waiting = await waiting_key(parts, chat)
    board = await (await client.get("/staff")).text()
    assert "Sam" in board and "Answering (" in board

    # Moved: the child's chat is told the new day, time and place, in English.
    since = len(conn.sent)
    new_day = in_days(20)
    response = await move(client, csrf, review_id, new_day, "14:30", "Birch Room, Town Hall")
    assert "Saved. If they have linked their chat" in await response.text()
    notice = await told(conn, chat, since)
    assert "your review meeting has changed" in notice
    assert format_date(new_day, "EEEE d MMMM", locale="en") in notice
    assert "14:30" in notice and "Birch Room, Town Hall" in notice
    # It was only a message: the question they were on still takes their next answer.
    assert await waiting_key(parts, chat) == waiting
    reply = await chat.say("skip")
    assert not said(parts, reply, "messages.not_understood") and "Sorry" not in reply
    assert await waiting_key(parts, chat) != waiting
    board = await (await client.get("/staff")).text()
    assert f"{new_day:%-d %b %Y}, 14:30" in board
    # Run again: nothing is sent twice.
    since = len(conn.sent)
    await jobs.deliver_notices(parts)
    assert [a for a in conn.sent[since:] if a["conversation"]["id"] == chat.conversation_id] == []

    # Cancelled, with a reason for staff: the child is told kindly, never why.
    missing = await client.post(f"/staff/reviews/{review_id}/cancel", data={"csrf": csrf})
    assert missing.status == 400 and "Say why the review is cancelled." in await missing.text()
    since = len(conn.sent)
    reason = "Placement moved out of area"
    response = await client.post(
        f"/staff/reviews/{review_id}/cancel", data={"csrf": csrf, "reason": reason}
    )
    page = await response.text()
    assert "The review is cancelled and its code no longer works." in page
    assert f"Reason: {reason}" in page and "Told on 1 device" in page
    notice = await told(conn, chat, since)
    assert "is not going ahead" in notice and "You have done nothing wrong" in notice
    assert format_date(new_day, "EEEE d MMMM", locale="en") in notice
    assert reason not in notice
    board = await (await client.get("/staff")).text()
    assert "Cancelled" in board
    # The code no longer opens a chat.
    late = new_chat("msteams", user_id="child-9")
    await late.start()
    assert said(parts, await late.say(code), "messages.code_expired")
    # Nothing more can be changed.
    refused = await move(client, csrf, review_id, in_days(30), "10:00")
    assert refused.status == 400 and "This review is cancelled" in await refused.text()

    actions = [(e.action, e.staff_id, e.review_id) for e in await audit_rows(parts)]
    for action in ("review.created", "review.rescheduled", "review.cancelled"):
        assert (action, jo.id, review_id) in actions
    (moved,) = await audit_rows(parts, "review.rescheduled")
    assert moved.details == {"changed": ["date", "place"]}  # what changed; no words
    assert reason not in str([e.details for e in await audit_rows(parts)])
    assert (await parts.repos.audit.verify()).ok


async def test_a_child_chatting_in_arabic_at_the_web_door_is_told_in_arabic(
    client, parts, new_review
):
    await make_staff(parts, email=JO, role="iro", name="Jo Smith")
    csrf = await signed_in(client, JO)
    review, code = await new_review(first_name="Amira", iro_email=JO, language_hint="ar")
    chat = WebChat(client, locale="ar")
    await chat.start()
    await chat.say(code)
    await chat.say("العربية")
    assert (await parts.repos.answers.all_for(review_id=review.id))["language"].value == "ar"

    new_day = in_days(21)
    await move(client, csrf, review.id, new_day, "11:15")
    for _ in range(250):
        if await chat.fetch():
            break
        await asyncio.sleep(0.02)
    (notice,) = chat.replies
    assert notice["locale"] == "ar"
    assert text(parts, "messages.notice_moved", "ar", date="x", time="y").split(".")[0] in words(
        notice
    )
    assert format_date(new_day, "EEEE d MMMM", locale="ar") in words(notice)
    assert "11:15" in words(notice)

    # Given to another IRO: told their name, in Arabic. Jo's board no longer has it.
    pat, _ = await make_staff(parts, email=PAT, role="iro", name="Pat Lee")
    response = await client.post(
        f"/staff/reviews/{review.id}/reallocate", data={"csrf": csrf, "iro": str(pat.id)}
    )
    assert "it has left your board" in await response.text()
    for _ in range(250):
        if await chat.fetch():
            break
        await asyncio.sleep(0.02)
    (notice,) = chat.replies
    assert "Pat Lee" in words(notice) and "الـ IRO الخاص بك الآن" in words(notice)
    assert (await client.get(f"/staff/reviews/{review.id}")).status == 404
    (moved,) = await audit_rows(parts, "review.reallocated")
    assert moved.details == {"from": JO, "to": PAT}
    # The page keeps each notice once, however often it asks.
    await chat.fetch()
    assert chat.replies == []


async def test_mark_as_read_tells_the_child_once_by_the_iros_name(
    client, parts, connector, linked_chat
):
    conn, _ = connector
    jo, _ = await make_staff(parts, email=JO, role="iro", name="Jo Smith")
    csrf = await signed_in(client, JO)
    review, chat = await linked_chat("sms", iro_email=JO)
    early = await client.post(f"/staff/reviews/{review.id}/read", data={"csrf": csrf})
    assert early.status == 400 and "have not sent their answers yet" in await early.text()
    assert said(parts, await finish(chat, parts), "messages.sent")

    page = await (await client.get(f"/staff/reviews/{review.id}")).text()
    assert "Mark as read" in page and hidden(page, "csrf") == csrf
    since = len(conn.sent)
    response = await client.post(f"/staff/reviews/{review.id}/read", data={"csrf": csrf})
    page = await response.text()
    assert "Marked as read. They are told, in their language" in page
    assert "Jo Smith marked these answers read on" in page and "Mark as read</button>" not in page
    notice = await told(conn, chat, since)
    assert notice == text(parts, "messages.notice_read", "en", "13+", iro="Jo Smith")
    board = await (await client.get("/staff")).text()
    assert ">Read</span>" in board

    # A second click does nothing more.
    since = len(conn.sent)
    again = await client.post(f"/staff/reviews/{review.id}/read", data={"csrf": csrf})
    assert "marked as read before" in await again.text()
    await jobs.deliver_notices(parts)
    await asyncio.sleep(0.1)
    assert [a for a in conn.sent[since:] if a["conversation"]["id"] == chat.conversation_id] == []
    assert len(await audit_rows(parts, "review.read")) == 1
    (row,) = [
        n
        for n in await parts.repos.notices.for_review(review_id=review.id)
        if n.message_id == "notice_read"
    ]
    assert (row.state, row.devices) == ("delivered", 1)
    assert (await parts.repos.reviews.get(review_id=review.id)).read_by == jo.id


async def test_a_pending_notice_is_delivered_after_a_restart(
    client, parts, settings, connector, linked_chat
):
    conn, _ = connector
    review, chat = await linked_chat(iro_email=JO)
    await chat.say("English")
    waiting = await waiting_key(parts, chat)
    await client.close()  # the app stops

    # While it is down, the review is moved from the command line; and, as if a process had
    # died sending it, the notice is held under this instance's name.
    new_day = in_days(25)
    when = datetime.combine(new_day, time(9, 45), LONDON)
    await cli.move_review(settings, review.id, when, None)
    held = build_parts(settings)
    (notice,) = await held.repos.notices.claim_due(
        now=datetime.now(UTC), owner=settings.instance_name, lease=timedelta(hours=1)
    )
    await held.db.dispose()
    held.adapter.close()
    since = len(conn.sent)

    async with TestClient(TestServer(create_app(settings))) as restarted:
        chat.client = restarted
        notice_words = await told(conn, chat, since)
        assert "It is now on" in notice_words and "09:45" in notice_words
        assert format_date(new_day, "EEEE d MMMM", locale="en") in notice_words
        again = restarted.app[PARTS]
        assert await waiting_key(again, chat) == waiting
        assert "Sorry" not in await chat.say("skip")
        (row,) = await again.repos.notices.for_review(review_id=review.id)
        assert (row.id, row.state, row.devices) == (notice.id, "delivered", 1)
    (moved,) = [e for e in await audit_rows(again, "review.rescheduled")]
    assert moved.staff_id is None and moved.details["via"] == "command line"


async def test_a_device_closed_by_a_new_code_is_told_nothing(
    client, parts, connector, linked_chat, new_chat
):
    conn, _ = connector
    await make_staff(parts, email=JO, role="iro", name="Jo Smith")
    csrf = await signed_in(client, JO)
    review, old_device = await linked_chat(iro_email=JO)
    await old_device.say("English")

    response = await client.post(f"/staff/reviews/{review.id}/new-code", data={"csrf": csrf})
    page = await response.text()
    assert "the 1 device linked with it is closed" in page
    code = shown_code(page)
    assert code != old_device.code
    (event,) = await audit_rows(parts, "review.new_code")
    assert event.details == {"devices_closed": 1}
    new_device = new_chat("msteams", user_id="child-2")
    await new_device.start()
    await new_device.say(code)

    since = len(conn.sent)
    await move(client, csrf, review.id, in_days(18), "15:00")
    assert "your review meeting has changed" in await told(conn, new_device, since)
    await jobs.deliver_notices(parts)
    assert [
        a for a in conn.sent[since:] if a["conversation"]["id"] == old_device.conversation_id
    ] == []


async def test_another_iros_review_cannot_be_changed_and_forms_need_their_token(
    client, parts, new_review
):
    await make_staff(parts, email=JO, role="iro", name="Jo Smith")
    await make_staff(parts, email=PAT, role="iro", name="Pat Lee")
    await make_staff(parts, email="admin@council.example", role="admin", name="Ada Admin")
    theirs, _ = await new_review(first_name="Robin", iro_email=PAT, iro_name="Pat Lee")
    before = await parts.repos.reviews.get(review_id=theirs.id)
    csrf = await signed_in(client, JO)
    for path in ("change",):
        assert (await client.get(f"/staff/reviews/{theirs.id}/{path}")).status == 404
    day = in_days(30).isoformat()
    for path, data in (
        ("reschedule", {"review_date": day, "review_time": "10:00", "place": "x"}),
        ("reallocate", {"iro": "1"}),
        ("cancel", {"reason": "mine now"}),
        ("new-code", {}),
        ("read", {}),
    ):
        response = await client.post(
            f"/staff/reviews/{theirs.id}/{path}", data={"csrf": csrf, **data}
        )
        missing = await client.post(f"/staff/reviews/99999/{path}", data={"csrf": csrf, **data})
        assert response.status == missing.status == 404, path
    after = await parts.repos.reviews.get(review_id=theirs.id)
    assert after == before and await audit_rows(parts, "review.rescheduled") == []

    # Their own review: without the session's token, nothing changes.
    mine, _ = await new_review(first_name="Sam", iro_email=JO)
    forged = await move(client, "not-the-token", mine.id, in_days(30), "10:00")
    assert forged.status == 403 and "This form is out of date" in await forged.text()
    no_token = await client.post(f"/staff/reviews/{mine.id}/cancel", data={"reason": "forged"})
    assert no_token.status == 403
    assert (await parts.repos.reviews.get(review_id=mine.id)).cancelled_at is None
    assert (await client.post("/staff/reviews/new", data=new_review_form("x"))).status == 403

    # An admin manages any review (no child's words) but cannot mark one read.
    client.session.cookie_jar.clear()
    admin_csrf = await signed_in(client, "admin@council.example")
    assert (await client.get(f"/staff/reviews/{theirs.id}/change")).status == 200
    assert (await client.get(f"/staff/reviews/{theirs.id}")).status == 404
    listed = await (await client.get(f"/staff/admin/reviews?iro={PAT}")).text()
    assert "Robin" in listed and f"/staff/reviews/{theirs.id}/change" in listed
    read = await client.post(f"/staff/reviews/{theirs.id}/read", data={"csrf": admin_csrf})
    assert read.status == 404


async def test_bad_dates_and_inputs_get_a_clear_error_and_keep_what_was_typed(client, parts):
    await make_staff(parts, email=JO, role="iro", name="Jo Smith")
    csrf = await signed_in(client, JO)
    cases = {
        "Enter the child's first name.": {"first_name": "  "},
        "Enter their age, or their date of birth.": {"age": ""},
        "Enter their age in years, from 3 to 25": {"age": "forty"},
        "Enter the date of the review as a real date": {"review_date": "2027-02-30"},
        "The review must be in the future": {"review_date": in_days(-1).isoformat()},
        "Enter the time as hours and minutes": {"review_time": "25:99"},
        "Enter the date of the review.": {"review_date": ""},
        "Choose a language from the list.": {"language": "xx"},
        "Keep the place to 120 characters.": {"place": "x" * 121},
        "Enter a date of birth in the past 25 years.": {"date_of_birth": "2099-01-01"},
    }
    for message, bad in cases.items():
        response = await client.post(
            "/staff/reviews/new", data=new_review_form(csrf, case_reference="Kept-Ref", **bad)
        )
        page = unescape(await response.text())
        assert response.status == 400, (message, page)
        assert message in page, message
        assert 'value="Kept-Ref"' in page and 'aria-invalid="true"' in page
    assert await parts.repos.reviews.for_iro(iro_email=JO) == []
    # A form that cannot be read at all.
    garbled = await client.post(
        "/staff/reviews/new",
        data=b"\xff\xfe=\xff",
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
    )
    assert garbled.status in (400, 403)

    review_id, _, _ = await make_in_web(client, csrf)
    for message, data in {
        "Enter the time as hours and minutes": {
            "review_date": in_days(9).isoformat(),
            "review_time": "noon",
        },
        "The review must be in the future": {"review_date": "2020-01-01", "review_time": "10:00"},
    }.items():
        response = await client.post(
            f"/staff/reviews/{review_id}/reschedule", data={"csrf": csrf, **data}
        )
        assert response.status == 400 and message in await response.text()
    for data in ({"iro": "abc"}, {"iro": "424242"}, {"iro": ""}):
        response = await client.post(
            f"/staff/reviews/{review_id}/reallocate", data={"csrf": csrf, **data}
        )
        assert response.status == 400
    response = await client.post(
        f"/staff/reviews/{review_id}/cancel", data={"csrf": csrf, "reason": "x" * 501}
    )
    assert response.status == 400 and "Keep the reason to 500 characters." in await response.text()
    review = await parts.repos.reviews.get(review_id=review_id)
    assert review.cancelled_at is None and review.review_at.astimezone(LONDON).date() == in_days(14)
    assert await parts.repos.notices.for_review(review_id=review_id) == []


def test_the_command_line_moves_and_cancels_with_the_same_functions(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MYREVIEW_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/cli.db")
    add = [
        "review",
        "add",
        "--first-name",
        "Amira",
        "--age",
        "14",
        "--iro-name",
        "Pat Lee",
        "--iro-email",
        PAT,
        "--review-at",
        "2030-12-10T10:00",
    ]
    cli.main(add)
    review_id = re.search(r"Review (\d+) created", capsys.readouterr().out).group(1)
    cli.main(["review", "move", "--review-id", review_id, "--review-at", "2030-12-11T14:00"])
    assert f"Review {review_id} is now on 11 December 2030 at 14:00." in capsys.readouterr().out
    cli.main(["review", "cancel", "--review-id", review_id, "--reason", "moved away"])
    assert "its code no longer works" in capsys.readouterr().out
    try:
        cli.main(["review", "move", "--review-id", review_id, "--review-at", "2030-12-12T10:00"])
    except SystemExit as exc:
        assert "This review is cancelled" in str(exc)
    else:
        raise AssertionError("a cancelled review was moved")


async def test_a_failed_send_is_tried_again_later_and_one_cut_short_is_never_repeated(
    parts, connector, linked_chat, new_chat
):
    conn, _ = connector
    review, chat = await linked_chat(iro_email=JO)
    await chat.say("English")
    now = datetime.now(UTC)
    parts.services.clock = lambda: now
    conn.fail_posts = 1  # the channel's connector is down for the notice
    since = len(conn.sent)
    await reviews.reschedule(
        parts.services, review_id=review.id, review_at=now + timedelta(days=19), place=None, by=None
    )
    await jobs.deliver_notices(parts)
    (notice,) = await parts.repos.notices.for_review(review_id=review.id)
    assert (notice.state, notice.attempts, notice.devices) == ("pending", 1, 0)
    assert notice.next_attempt_at == now + timedelta(seconds=30)
    await jobs.deliver_notices(parts)  # not yet due: nothing is sent
    assert [a for a in conn.sent[since:] if a["conversation"]["id"] == chat.conversation_id] == []

    parts.services.clock = lambda: now + timedelta(seconds=31)
    await jobs.deliver_notices(parts)
    assert "your review meeting has changed" in await told(conn, chat, since)
    (notice,) = await parts.repos.notices.for_review(review_id=review.id)
    assert (notice.state, notice.devices) == ("delivered", 1)

    # A process that died mid-send left a device "sending": that device is not sent it again
    # (it may have had it); the others are.
    second = new_chat("msteams", user_id="child-2")
    await second.start()
    await second.say(chat.code)
    since = len(conn.sent)
    await reviews.cancel(parts.services, review_id=review.id, reason="no longer needed", by=None)
    (cancelled,) = [
        n
        for n in await parts.repos.notices.for_review(review_id=review.id)
        if n.message_id == "notice_cancelled"
    ]
    (first_link,) = [
        link
        for link in await parts.repos.links.for_review(review_id=review.id)
        if link.conversation_id == chat.conversation_id
    ]
    assert await parts.repos.notices.begin_sending(
        notice_id=cancelled.id, link_id=first_link.id, at=now
    )
    await jobs.deliver_notices(parts)
    assert "is not going ahead" in await told(conn, second, since)
    assert [a for a in conn.sent[since:] if a["conversation"]["id"] == chat.conversation_id] == []


async def test_a_child_on_the_easy_path_is_told_in_easy_words(parts, connector, linked_chat):
    conn, _ = connector
    review, chat = await linked_chat(iro_email=JO, easy_read=True, age=15)
    await chat.say("English")
    since = len(conn.sent)
    await reviews.cancel(parts.services, review_id=review.id, reason="moved away", by=None)
    parts.notices.wake()
    day = format_date(review.review_at.astimezone(LONDON).date(), "EEEE d MMMM", locale="en")
    easy = text(parts, "messages.notice_cancelled", "en", "easy", date=day)
    # Teams shows its lines a blank line apart; read as the child reads them.
    assert await told(conn, chat, since) == easy


async def test_the_board_says_when_a_review_is_held_cancelled_or_read(client, parts, new_review):
    jo, _ = await make_staff(parts, email=JO, role="iro", name="Jo Smith")
    past = datetime.now(UTC) - timedelta(hours=2)
    await new_review(first_name="Held", iro_email=JO, review_at=past)
    called_off, _ = await new_review(first_name="Off", iro_email=JO)
    await reviews.cancel(parts.services, review_id=called_off.id, reason="x", by=jo.id)
    read, _ = await new_review(first_name="Done", iro_email=JO)
    await parts.repos.reviews.mark_submitted(review_id=read.id, at=datetime.now(UTC))
    await reviews.mark_read(parts.services, review_id=read.id, by=jo)
    await signed_in(client, JO)
    board = await (await client.get("/staff")).text()
    states = dict(
        re.findall(r'reviews/\d+">(\w+)</a>.*?<span class="badge \w+">([\w ]+)</span>', board, re.S)
    )
    assert states == {"Done": "Read", "Held": "Review held", "Off": "Cancelled"}
    # Upcoming first; cancelled last.
    assert board.index("Done") < board.index("Held") < board.index("Off")


async def test_the_board_filters_by_state_and_its_counts_add_up(client, parts, new_review):
    jo, _ = await make_staff(parts, email=JO, role="iro", name="Jo Smith")
    for name in ("Ann", "Bea", "Cal"):
        await new_review(first_name=name, iro_email=JO)
    sent, _ = await new_review(first_name="Dee", iro_email=JO)
    await parts.repos.reviews.mark_submitted(review_id=sent.id, at=datetime.now(UTC))
    off, _ = await new_review(first_name="Eve", iro_email=JO)
    await reviews.cancel(parts.services, review_id=off.id, reason="x", by=jo.id)
    await new_review(first_name="Zed", iro_email=PAT)  # another IRO's: never counted
    await signed_in(client, JO)

    board = await (await client.get("/staff")).text()
    assert "5 reviews." in board
    filters = dict(re.findall(r'href="/staff(?:\?state=\w+)?"[^>]*>([\w ]+) \((\d+)\)', board))
    assert filters == {"All": "5", "Invited": "3", "Sent": "1", "Cancelled": "1"}
    invited = await (await client.get("/staff?state=invited")).text()
    assert all(n in invited for n in ("Ann", "Bea", "Cal")) and "Dee" not in invited
    assert 'href="/staff?state=invited" aria-current="page"' in invited
    only_sent = await (await client.get("/staff?state=sent")).text()
    assert "Dee" in only_sent and "Ann" not in only_sent and "Eve" not in only_sent
    # Nothing in a state: said so; an unknown state shows everything.
    none = await (await client.get("/staff?state=alerts")).text()
    assert "None of your reviews is in this state" in none
    every = await (await client.get("/staff?state=%3Cscript%3E")).text()
    assert all(n in every for n in ("Ann", "Dee", "Eve")) and "Zed" not in every
