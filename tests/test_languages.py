"""Arabic (right to left) and Albanian, with English as the per-string fallback."""

import shutil
from email import message_from_bytes, policy

import yaml

from storage.content import load_content
from tests.consult import answers_of, said, text, until_said, wait_for_eml


async def test_arabic_consultation_and_english_summary(new_chat, new_review, parts, settings):
    review, code = await new_review(first_name="Amira", language_hint="ar", is_uasc=True, age=14)
    chat = new_chat("msteams")
    await chat.start()
    transcript = await chat.say(code)
    assert "Amira" in transcript
    # The review says Arabic: the rules again in Arabic, and no question about the language.
    assert said(parts, transcript, "messages.welcome_rules", "ar")
    assert not said(parts, transcript, "questions.language.prompt", "ar")
    await chat.say("أميرة")
    await chat.say("1")
    await chat.say("٧")  # take part: not come, send my views (Arabic-Indic 7)
    stored = await answers_of(parts, review.id)
    assert stored["take_part"] == ("choice", "not_come_send_views")

    async def answer_or_skip():
        question = chat.said
        if said(parts, question, "questions.topics.prompt", "ar", "13+"):
            await chat.pick(chat_choice(chat, "immigration"))
        elif said(parts, question, "questions.topic_say.prompt", "ar", "13+"):
            await chat.say("أخاف من المقابلة في وزارة الداخلية")
        elif said(parts, question, "questions.share_all.prompt", "ar"):
            await chat.pick(chat_choice(chat, "all_everyone"))
        else:
            await chat.tap(text(parts, "controls.skip.label", "ar"))

    await until_said(parts, chat, "messages.check_intro", answer_or_skip, locale="ar")
    await chat.pick(chat_choice(chat, "send"))
    assert said(parts, chat.said, "messages.sent", "ar")

    (eml,) = await wait_for_eml(settings.outbox_dir)
    mail = message_from_bytes(eml.read_bytes(), policy=policy.default)
    body = mail.get_body(("plain",)).get_content()
    # The IRO reads the English label of what the child chose in Arabic.
    assert text(parts, "questions.take_part.options.not_come_send_views.label") in body
    assert "أخاف من المقابلة في وزارة الداخلية" in body  # the child's own words
    assert "written in Arabic; interpreter may be needed" in body
    assert "Language used in the chat: Arabic" in body
    assert "PN6" in body


def chat_choice(chat, value):
    return next(title for title, v in chat.choices().items() if v == value)


def test_missing_translation_falls_back_to_english_per_string(tmp_path):
    content_dir = tmp_path / "content"
    shutil.copytree("content", content_dir)
    ar_path = content_dir / "locales" / "ar.yaml"
    ar = yaml.safe_load(ar_path.read_text(encoding="utf-8"))
    del ar["messages"]["code_wrong"]
    del ar["questions"]["name"]["prompt"]
    ar_path.write_text(yaml.safe_dump(ar, allow_unicode=True), encoding="utf-8")
    shipped = load_content("content")
    content = load_content(content_dir)
    for key, band in (("messages.code_wrong", None), ("questions.name.prompt", "13+")):
        english = shipped.text(key, "en", band)
        assert shipped.text(key, "ar", band) != english  # translated, until it was removed
        assert content.text(key, "ar", band) == english
    assert content.text("messages.welcome", "ar") == shipped.text("messages.welcome", "ar")
    assert content.text("messages.welcome", "ar") != content.text("messages.welcome", "en")


def test_drafts_are_marked_as_awaiting_a_qualified_translator(parts):
    content = parts.services.content_source.current()
    assert content.locales["en"].meta.status == "reviewed"
    for code in ("ar", "sq"):
        assert content.locales[code].meta.status == "draft"
        assert "translator" in (content.locales[code].meta.note or "")
    assert content.locales["ar"].meta.direction == "rtl"


def test_every_english_string_is_translated_in_arabic_and_albanian(parts):
    content = parts.services.content_source.current()
    english = {
        k
        for k in content.locales["en"].strings
        if ".summary" not in k and not k.startswith("meta.")
    }
    for code in ("ar", "sq"):
        missing = english - set(content.locales[code].strings)
        assert not missing, f"{code} lacks {sorted(missing)[:5]}"
