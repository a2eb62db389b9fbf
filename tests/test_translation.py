"""Alerts in another language carry an English rendering when a translation service is set up
(issue 14): Azure AI Translator's v3 REST API, here a local fake that follows its documented
shape (no network; the real service cannot be reached from here). Off, or failing, the alert
still goes at once, saying it was not translated and what to do today."""

from __future__ import annotations

from collections.abc import AsyncIterator
from email import message_from_bytes, policy
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.conftest import make_settings
from tests.consult import wait_for_eml

WORRY_AR = "زوج أمي يضربني كل ليلة"


class FakeTranslator:
    """POST /translate?api-version=3.0&to=en[&from=..]: as Azure AI Translator answers."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.failing = False
        self.app = web.Application()
        self.app.router.add_post("/translate", self.translate)

    async def translate(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.calls.append(
            {"query": dict(request.query), "headers": dict(request.headers), "body": body}
        )
        if self.failing:
            return web.Response(status=503)
        if request.headers.get("Ocp-Apim-Subscription-Key") != "test-key":
            return web.json_response({"error": {"code": 401000}}, status=401)
        return web.json_response(
            [
                {
                    "detectedLanguage": {"language": "ar", "score": 1.0},
                    "translations": [{"text": f"[in English] {item['Text']}", "to": "en"}],
                }
                for item in body
            ]
        )


@pytest.fixture
async def fake_translator() -> AsyncIterator[tuple[FakeTranslator, str]]:
    fake = FakeTranslator()
    server = TestServer(fake.app)
    await server.start_server()
    yield fake, str(server.make_url("")).rstrip("/")
    await server.close()


@pytest.fixture
def settings(tmp_path, fake_translator):
    _, url = fake_translator
    return make_settings(
        tmp_path,
        translator_key="test-key",
        translator_region="uksouth",
        translator_endpoint=url,
    )


def body(path) -> tuple[str, str]:
    mail = message_from_bytes(path.read_bytes(), policy=policy.default)
    return str(mail["Subject"]), mail.get_body(("plain",)).get_content()


async def test_an_arabic_alert_carries_an_english_rendering(
    linked_chat, parts, settings, fake_translator
):
    fake, _ = fake_translator
    review, chat = await linked_chat("msteams", language_hint="ar")

    await chat.say(WORRY_AR)

    [mail] = await wait_for_eml(settings.outbox_dir)
    subject, text = body(mail)
    assert "(written in Arabic)" in subject
    assert text.splitlines()[0].startswith("Written in Arabic. An English machine translation")
    assert f'"[in English] {WORRY_AR}"' in text
    assert WORRY_AR in text  # their own words are there too
    [call] = fake.calls
    assert call["query"] == {"api-version": "3.0", "to": "en", "from": "ar"}
    assert call["headers"]["Ocp-Apim-Subscription-Region"] == "uksouth"
    assert call["body"] == [{"Text": WORRY_AR}]
    # Kept with the alert, sealed like the words.
    [alert] = await parts.repos.alerts.for_review(review_id=review.id)
    assert alert.translation == f"[in English] {WORRY_AR}"


async def test_when_the_service_fails_the_alert_goes_untranslated(
    linked_chat, settings, fake_translator
):
    fake, _ = fake_translator
    fake.failing = True
    review, chat = await linked_chat("msteams", language_hint="ar")

    reply = await chat.say(WORRY_AR)

    assert "0800 1111" in reply  # the child has the help whatever the service does
    [mail] = await wait_for_eml(settings.outbox_dir)
    _, text = body(mail)
    assert text.splitlines()[0].startswith("Written in Arabic. Not translated: book an interpreter")


async def test_an_english_chat_is_not_sent_for_translation(linked_chat, settings, fake_translator):
    fake, _ = fake_translator
    review, chat = await linked_chat("msteams")
    await chat.say("English")

    await chat.say("my stepdad hits me every night")

    [mail] = await wait_for_eml(settings.outbox_dir)
    _, text = body(mail)
    assert "Written in" not in text
    assert fake.calls == []


async def test_the_summary_shows_each_arabic_answer_with_its_english(
    linked_chat, parts, settings, fake_translator
):
    from tests.consult import QUICK, answer_until, text, waiting_key

    fake, _ = fake_translator
    review, chat = await linked_chat("msteams", language_hint="ar", age=15)
    await chat.say("سارة")
    await answer_until(chat, parts, "not_discussed")
    await chat.say("الواجبات المدرسية")  # homework
    for _ in range(30):
        waiting = await waiting_key(parts, chat)
        if waiting == "send_confirm":
            break
        await chat.say(QUICK.get(waiting or "", "skip"))
    await chat.pick(text(parts, "questions.send_confirm.options.send.label", "ar"))

    mails = await wait_for_eml(settings.outbox_dir)
    _, summary = body(mails[-1])
    assert "الواجبات المدرسية" in summary  # their words, and beside them the English
    assert "English (machine translation): [in English] الواجبات المدرسية" in summary
    assert "written answers in Arabic: each shown with an English machine translation" in summary
    assert "not translated" not in summary
    # The action box too: what not to discuss, in English, by machine.
    assert "Do not discuss: الواجبات المدرسية (in English, by machine: [in English]" in summary
    # One request for the whole summary's Arabic (the name and the answer), from Arabic.
    [call] = [c for c in fake.calls if len(c["body"]) > 1]
    assert call["query"]["from"] == "ar"
    assert {"Text": "الواجبات المدرسية"} in call["body"]
