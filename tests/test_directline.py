"""The web door's channel (bot/directline.py), driven as the page's Direct Line client drives
it: a child opens a chat, enters their code, answers and sends; comes back on a new page with
the code; tokens that are not theirs, floods and bad bodies are refused, and nothing is lost."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from aiohttp import WSServerHandshakeError

from tests.chat import WebChat
from tests.consult import answers_of, linked_as, said, wait_for_eml
from tests.test_sending import finish

BASE = "/v3/directline"


async def test_a_child_at_the_web_door_links_answers_and_sends(client, parts, new_review, settings):
    review, code = await new_review()
    child = WebChat(client)
    assert said(parts, await child.start(), "messages.welcome")
    assert linked_as(parts, await child.say(code), "Sam")
    assert said(parts, await finish(child, parts), "messages.sent")
    stored = await answers_of(parts, review.id)
    assert stored["language"] == ("choice", "en")
    assert stored["name"] == ("text", "Sammy")
    (email,) = await wait_for_eml(settings.outbox_dir, 1)
    assert "Sammy" in email.read_text()
    # The page showed the child's own messages as sent: each came back with its client id.
    echoed = [a for a in child.everything if a["from"]["role"] == "user"]
    assert echoed[0]["text"] == code
    assert all(a["channelData"]["clientActivityID"].startswith("client-") for a in echoed)
    assert all(a["from"]["id"] == echoed[0]["from"]["id"] for a in echoed)


async def test_the_link_language_is_the_welcome_language(client, parts, new_review):
    child = WebChat(client, locale="ar")
    assert said(parts, await child.start(), "messages.welcome", "ar")
    assert child.replies[0]["from"]["role"] == "bot"


async def test_a_new_page_with_the_code_carries_on_and_the_old_one_is_closed_kindly(
    client, parts, new_review
):
    review, code = await new_review()
    first = WebChat(client)
    await first.start()
    await first.say(code)
    await first.say("English")
    await first.say("Sammy")
    # The tab is closed; the next day the child opens the link again.
    again = WebChat(client)
    await again.start()
    transcript = await again.say(code)
    assert said(parts, transcript, "messages.linked_again")
    assert not said(parts, transcript, "messages.linked_other_device")
    # Their own device still (it can check and send), and the closed tab is no device.
    links = {k.conversation_id: k for k in await parts.repos.links.for_review(review_id=review.id)}
    assert links[again.conversation_id].trusted
    assert links[first.conversation_id].closed_because == "reopened"
    # Had the old tab stayed open, it is told why it stopped, not that a new code was given.
    transcript = await first.say("hello")
    assert said(parts, transcript, "messages.web_chat_reopened")
    assert not said(parts, transcript, "messages.device_closed")
    # Opening the link again is not another device: a fourth, fifth and sixth page still work.
    for _ in range(4):
        page = WebChat(client)
        await page.start()
        assert said(parts, await page.say(code), "messages.linked_again")


async def test_a_message_sent_twice_by_the_page_is_taken_once(client, parts, new_review):
    review, code = await new_review()
    child = WebChat(client)
    await child.start()
    await child.say(code)
    await child.say("English")
    message = child.activity(text="Sammy")
    first = await child.client.post(
        f"{BASE}/conversations/{child.conversation_id}/activities", json=message, headers=child.auth
    )
    again = await child.client.post(
        f"{BASE}/conversations/{child.conversation_id}/activities", json=message, headers=child.auth
    )
    assert (await first.json())["id"] == (await again.json())["id"]
    await child.fetch()
    assert [a.get("text") for a in child.everything].count("Sammy") == 1
    asked_name = [a for a in child.everything if a.get("replyToId") == (await first.json())["id"]]
    assert len(asked_name) >= 1
    assert (await answers_of(parts, review.id))["name"] == ("text", "Sammy")


async def test_tokens_are_checked_on_every_call(client, parts):
    child, other = WebChat(client), WebChat(client)
    await child.start()
    await other.start()
    url = f"{BASE}/conversations/{child.conversation_id}/activities"
    hello = {"type": "message", "text": "hi"}
    assert (await client.post(url, json=hello)).status == 401
    bad = await client.post(url, json=hello, headers={"Authorization": "Bearer nonsense"})
    assert bad.status == 403 and (await bad.json())["error"]["code"] == "Forbidden"
    # Another chat's token opens nothing of this one.
    assert (await client.post(url, json=hello, headers=other.auth)).status == 403
    assert (await client.get(url, headers=other.auth)).status == 403
    # A refreshed token replaces the old one (after a minute's grace for calls on their way).
    old = child.auth
    fresh = await client.post(f"{BASE}/tokens/refresh", headers=old)
    assert fresh.status == 200
    child.token = (await fresh.json())["token"]
    assert (await client.get(url, headers=old)).status == 200
    with time_machine.travel(datetime.now(UTC) + timedelta(minutes=2), tick=False):
        assert (await client.get(url, headers=old)).status == 403
        assert (await client.get(url, headers=child.auth)).status == 200
    # An expired token is refused, as the official client expects (403, TokenExpired).
    with time_machine.travel(datetime.now(UTC) + timedelta(hours=1), tick=False):
        late = await client.get(url, headers=child.auth)
        assert late.status == 403 and (await late.json())["error"]["code"] == "TokenExpired"


async def test_a_stream_url_opens_one_socket_and_carries_each_reply(client, parts, new_review):
    review, code = await new_review()
    child = WebChat(client)
    await child.start()
    path = child.stream_url.split("://", 1)[1].split("/", 1)[1]
    async with client.ws_connect("/" + path) as ws:
        first = json.loads((await ws.receive(timeout=10)).data)
        assert said(
            parts, "\n".join(a.get("text", "") for a in first["activities"]), "messages.welcome"
        )
        await child.say(code)
        seen: list[dict] = []
        watermark = first["watermark"]
        while not linked_as(parts, "\n".join(a.get("text", "") for a in seen), "Sam"):
            group = json.loads((await ws.receive(timeout=10)).data)
            assert int(group["watermark"]) > int(watermark)
            watermark = group["watermark"]
            seen += group["activities"]
        # The child's own message came down the stream too (the page marks it sent).
        assert any(a.get("text") == code for a in seen)
    # The same URL again (copied from a log, say) opens nothing.
    with pytest.raises(WSServerHandshakeError) as refused:
        await client.ws_connect("/" + path)
    assert refused.value.status == 403


async def test_new_chats_past_the_limit_wait_and_open_chats_carry_on(client, parts, new_review):
    parts.web.limit.per_address = 3
    review, code = await new_review()
    child = WebChat(client)
    await child.start()
    for _ in range(2):
        assert (await client.post(f"{BASE}/tokens/generate")).status == 200
    refused = await client.post(f"{BASE}/tokens/generate")
    assert refused.status == 429 and int(refused.headers["Retry-After"]) > 0
    assert (await refused.json())["error"]["code"] == "TooManyRequests"
    # The child already chatting is not held back.
    assert linked_as(parts, await child.say(code), "Sam")


async def test_bad_bodies_get_a_clear_error_and_lose_nothing(client, parts, new_review):
    review, code = await new_review()
    child = WebChat(client)
    await child.start()
    await child.say(code)
    url = f"{BASE}/conversations/{child.conversation_id}/activities"
    cases = [
        b"not json",
        b"[1, 2]",
        json.dumps({"type": "message", "attachments": [{"contentType": "image/png"}]}).encode(),
        json.dumps({"type": "invoke", "name": "x"}).encode(),
        json.dumps({"type": "message", "text": 5}).encode(),
        json.dumps({"type": "message", "text": "x" * 5000}).encode(),
        json.dumps({"type": "message", "text": "a" * 70_000}).encode(),
        b"",
    ]
    for raw in cases:
        resp = await client.post(
            url, data=raw, headers={**child.auth, "Content-Type": "application/json"}
        )
        assert 400 <= resp.status < 500, (raw[:40], resp.status)
        if resp.status != 413 or resp.content_type == "application/json":
            assert (await resp.json())["error"]["message"]
    upload = await client.post(
        f"{BASE}/conversations/{child.conversation_id}/upload", headers=child.auth
    )
    assert upload.status == 400
    # A broken character is mended, as at /api/messages, not refused.
    mended = await client.post(
        url,
        data=b'{"type": "message", "text": "\\ud800"}',
        headers={**child.auth, "Content-Type": "application/json"},
    )
    assert mended.status == 200
    # Nothing was lost: the chat carries on where it was.
    await child.say("English")
    assert (await answers_of(parts, review.id))["language"] == ("choice", "en")


async def test_a_turn_a_crash_left_unfinished_runs_again_once(client, parts, new_review):
    review, code = await new_review()
    child = WebChat(client)
    await child.start()
    # What a kill -9 leaves: the child's message queued, its turn never run.
    message = parts.web._incoming(
        parts.web.tokens.read(child.token),
        child.activity(text=code),
        activity_id=f"{child.conversation_id}|lost",
    )
    await parts.repos.web.append(
        conversation_id=child.conversation_id,
        activity_id=message["id"],
        dedupe_key="child:lost",
        body=message,
        from_bot=False,
        pending=True,
    )
    assert await parts.web.resume() == 1
    await child.fetch()
    assert linked_as(parts, child.said, "Sam")
    assert await parts.web.resume() == 0


async def test_what_the_page_got_is_forgotten_soon_and_quiet_chats_whole(client, parts, new_review):
    review, code = await new_review()
    child = WebChat(client)
    await child.start()
    await child.say(code)
    await child.fetch()
    later = datetime.now(UTC) + timedelta(minutes=parts.settings.web_keep_delivered_minutes + 1)
    with time_machine.travel(later, tick=False):
        forgotten = await parts.web.forget()
        assert forgotten["web_activities"] >= 3
        assert await parts.repos.web.after(conversation_id=child.conversation_id, watermark=0) == []
        # The chat itself goes on.
        await child.say("English")
        assert child.replies
    quiet = later + timedelta(hours=parts.settings.web_chat_idle_hours, minutes=5)
    with time_machine.travel(quiet, tick=False):
        assert (await parts.web.forget())["web_chats"] == 1
    resp = await client.get(
        f"{BASE}/conversations/{child.conversation_id}/activities", headers=child.auth
    )
    assert resp.status == 403


async def test_purging_a_review_deletes_its_web_chat(client, parts, new_review):
    from bot.jobs import purge

    review, code = await new_review()
    child = WebChat(client)
    await child.start()
    await child.say(code)
    counts = await purge(parts, review.id)
    assert counts["webactivity"] >= 3 and counts["webconversation"] == 1
    assert await parts.repos.web.after(conversation_id=child.conversation_id, watermark=0) == []


async def test_many_children_at_once_each_get_their_own_replies(client, parts, new_review):
    reviews = [await new_review(first_name=f"Child{n}") for n in range(8)]
    children = [WebChat(client) for _ in reviews]
    await asyncio.gather(*(c.start() for c in children))
    transcripts = await asyncio.gather(
        *(c.say(code) for c, (_, code) in zip(children, reviews, strict=True))
    )
    for n, transcript in enumerate(transcripts):
        assert linked_as(parts, transcript, f"Child{n}")
