"""A possible disclosure gets help at once, an honest word on who is told, and an urgent alert."""

from email import message_from_bytes, policy
from pathlib import Path

import pytest

from dialogs.safeguarding import SafeguardingMatcher, compact
from storage.content import load_content
from tests.consult import answers_of, chat_languages, said, said_in_any_band, wait_for_eml

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).resolve().parent.parent


def lines(name: str) -> list[str]:
    return [
        line.strip()
        for line in (DATA / name).read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]


@pytest.fixture(scope="module")
def matcher() -> SafeguardingMatcher:
    return SafeguardingMatcher(load_content(ROOT / "content").safeguarding)


@pytest.mark.parametrize("locale", chat_languages())
def test_every_disclosure_in_the_corpus_is_flagged(matcher, locale):
    corpus = lines(f"safeguarding_disclosures_{locale}.txt")
    assert len(corpus) >= (40 if locale == "en" else 15)
    missed = [s for s in corpus if not matcher.categories(s)]
    assert missed == []


@pytest.mark.parametrize("locale", chat_languages())
def test_ordinary_answers_are_rarely_flagged(matcher, locale):
    # The measured rate is reported by tests/benchmark.py; here a ceiling guards regressions.
    corpus = lines(f"ordinary_sentences_{locale}.txt")
    assert len(corpus) >= (40 if locale == "en" else 15)
    flagged = [s for s in corpus if matcher.categories(s)]
    assert len(flagged) <= len(corpus) * 0.05, flagged


def test_matching_tolerates_case_spacing_repeats_and_typos(matcher):
    for text in (
        "I want to KILL MY SELF",
        "i want to kil myself",
        "iwanttokillmyself",
        "my step dad hitsss me",
        "he h1ts me",
        "nobody would care if i wasnt here",
    ):
        assert matcher.categories(text), text
    assert compact("Héllo  W0rld!!") == "heloworld"


async def test_disclosure_mid_consultation_helps_alerts_and_carries_on(
    new_chat, new_review, parts, settings
):
    review, code = await new_review(first_name="Sam", iro_name="Jo Smith")
    chat = new_chat("msteams")
    await chat.start()
    await chat.say(code)
    await chat.pick("English")
    transcript = await chat.say("my step dad hits me when mum is out")  # the name question
    assert "0800 1111" in transcript and "999" in transcript
    assert said(parts, transcript, "messages.safeguarding_tell_iro") and "Jo Smith" in transcript
    # A worry is not a name: the alert keeps it, and the help stays the last thing on screen;
    # the name question is asked again when the child says they are ready.
    assert not said(parts, transcript, "questions.name.prompt", band="13+")
    stored = await answers_of(parts, review.id)
    assert "name" not in stored
    assert said(parts, await chat.say("ok"), "questions.name.prompt", band="13+")
    transcript = await chat.say("Sam")
    assert said(parts, transcript, "questions.pronouns.prompt")  # it carries on

    (alert,) = await parts.repos.alerts.for_review(review_id=review.id)
    assert "being_hurt" in alert.categories and alert.question_id == "name"
    (eml,) = await wait_for_eml(settings.outbox_dir)
    mail = message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert mail["Importance"] == "high" and mail["Subject"].startswith("URGENT")
    assert set(mail["To"].split(", ")) == {"jo.smith@council.example", "duty@council.example"}
    assert "my step dad hits me when mum is out" in mail.get_body(("plain",)).get_content()


async def test_disclosure_in_a_choice_question_is_not_treated_as_a_wrong_answer(
    new_chat, new_review, parts
):
    review, chat = None, new_chat("sms")
    review, code = await new_review()
    await chat.start()
    await chat.say(code)
    await chat.say("English")
    await chat.say("skip")
    transcript = await chat.say("i dont feel safe at home")  # pronouns: a choice question
    assert "0800 1111" in transcript
    assert not said(parts, transcript, "messages.not_understood")
    assert "1. she / her" not in transcript  # the help is the last thing on screen
    assert "1. she / her" in await chat.say("ok")  # then asked again, kindly
    assert len(await parts.repos.alerts.for_review(review_id=review.id)) == 1


async def test_disclosure_before_the_code_alerts_the_duty_team(new_chat, parts, settings):
    chat = new_chat("webchat")
    await chat.start()
    transcript = await chat.say("i want to kill myself")
    assert "0800 1111" in transcript
    assert said_in_any_band(parts, transcript, "messages.safeguarding_tell_duty")
    (eml,) = await wait_for_eml(settings.outbox_dir)
    mail = message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert mail["To"] == "duty@council.example"
    assert "not yet identified" in mail.get_body(("plain",)).get_content()
    assert said_in_any_band(parts, chat.said, "messages.carry_on")


async def test_bot_never_promises_secrecy(parts):
    content = parts.services.content_source.current()
    for locale in content.locales:
        for key, text in content.locales[locale].strings.items():
            if isinstance(text, str) and locale == "en":
                lowered = text.lower()
                assert "secret" not in lowered or "can't keep" in lowered, key
                assert "confidential" not in lowered and "won't tell" not in lowered, key


@pytest.mark.parametrize("folder", sorted(DATA.glob("heldout*")), ids=lambda p: p.name)
def test_the_held_out_sets_are_frozen(folder):
    # Written blind and measured once each: an edit would turn them into training data
    # without anyone noticing. Every data file of every round is under its checksums.
    import hashlib

    sums = dict(
        reversed(line.split(maxsplit=1))
        for line in (folder / "SHA256SUMS").read_text().splitlines()
        if line.strip()
    )
    data = {p.name for p in folder.iterdir() if p.suffix in (".txt", ".tsv", ".jsonl")}
    assert set(sums) == data
    for name, digest in sums.items():
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest, name


@pytest.mark.parametrize(
    "text",
    [
        "nobody hits me at my placement",
        "my carers have never hurt me",
        "no one touches me there",
        "i would never hurt myself",
        "i don't want to run away, i like it here",
        "askush nuk më godet",
        "ما حدا بيضربني",
        "im not suicidal or anything i just hate mondays",
        "أشعر بالأمان ولا أحد يؤذيني",  # "and nobody", written as one word
        "ma 7ada byedrobni wala shi",  # Arabizi: nobody hits me
    ],
)
def test_a_child_saying_it_does_not_happen_is_not_flagged(matcher, text):
    assert matcher.categories(text) == []


@pytest.mark.parametrize(
    "text",
    [
        # The negation is about something else, or is part of the worry itself.
        "nobody knows he hits me",
        "nobody would care if i died",
        "i don't want to die but he said he would kill me",
        "i don't want to hurt myself but i keep doing it",
        "he hits me, nobody helps",
        "i don't feel safe at home",
        "nobody knows im suicidal",
        "هو بيضربني وما حدا بيسمعني",  # he hits me, and nobody listens
        "im not suicidal but everyone would be better off without me",
    ],
)
def test_a_negation_nearby_does_not_hide_a_disclosure(matcher, text):
    assert matcher.categories(text) != []


def test_trapped_in_a_game_or_a_lift_is_not_a_typo_of_a_worse_word(matcher):
    # Repeated letters fold ("trapped" is "traped"), one letter from "raped": listed as not a
    # typo, so only the word itself is heard.
    assert matcher.categories("i got trapped in the lift") == []
    assert matcher.categories("they trapped me in the game") == []
    assert matcher.categories("i have been raped") != []


def test_an_ordinary_word_is_not_read_as_a_trigger_with_a_typo(matcher):
    # "blocked" is one letter from "locked", "anger" from "danger".
    assert matcher.categories("she kept me blocked on snapchat for a week") == []
    assert matcher.categories("im in anger management at school") == []
    # A real typo of the trigger word still counts.
    assert matcher.categories("my stepdad kept me lockd in my room") != []
    assert matcher.categories("my stepdad keeps hittin me") != []


@pytest.mark.parametrize(
    "text",
    [
        # An adult's age said of a boyfriend or a new friend, in any digits and language.
        "my boyfriend is 24",
        "i have a boyfriend / hes 24 / im 13",  # told in pieces, read together
        "can jay come / hes my mate / hes 24",
        "عندي صاحب عمره ٢٤",
        "3ndi sa7eb 3omro 23",
        "i dashuri im eshte 24 vjec",
        "my boyfriend eshte 25 dhe me con te shoket e tij",
        # A count of pills taken or saved.
        "took like 20 ibuprofen idk what happens now",
        "ive been saving my tablets / got like 30 now",
        "kam mbledh tableta, jan rreth 40",
    ],
)
def test_a_number_said_beside_who_or_what_it_counts_is_heard(matcher, text):
    # Digits are no words to the phrase lists and the model alike: only the number rules of
    # the phrase files hear these.
    assert matcher.categories(text) != []


@pytest.mark.parametrize(
    "text",
    [
        "my brother is 19 and hes taking me to football",
        "my cousin is 27 and getting married in june",
        "أخوي عمره ٢٠ وبيشتغل",
        "vellai im eshte 19 vjec",
        "my friend turns 18 next week",
        "i have a 300 day snap streak with my best friend",
        "my mate got 30 kills in one game",
        "me and my mate at 8:30",
        "my friend gave me £20 for my birthday",
        "i take 10 tablets a day for my epilepsy",
        "i took 2 paracetamol 20 mins ago for my headache",
    ],
)
def test_a_number_of_family_or_of_things_that_are_not_ages_or_pills_is_not(matcher, text):
    assert matcher.categories(text) == []


async def test_an_adults_age_told_in_pieces_gets_the_help_and_an_urgent_alert(
    linked_chat, parts, settings
):
    review, chat = await linked_chat("msteams", first_name="Mia", iro_name="Jo Smith")
    await chat.pick("English")
    await chat.say("Mia")
    await chat.say("i have a boyfriend")  # pronouns: not a worry on its own
    transcript = await chat.say("hes 24")
    assert "0800 1111" in transcript
    assert said(parts, transcript, "messages.safeguarding_tell_iro") and "Jo Smith" in transcript
    (alert,) = await parts.repos.alerts.for_review(review_id=review.id)
    assert "exploitation" in alert.categories
    (eml,) = await wait_for_eml(settings.outbox_dir)
    body = message_from_bytes(eml.read_bytes(), policy=policy.default).get_body(("plain",))
    assert "i have a boyfriend" in body.get_content() and "hes 24" in body.get_content()


@pytest.mark.parametrize(
    "text",
    ["i cant go on the school trip", "i dont want to carry on with football", "go on then"],
)
def test_going_on_and_carrying_on_with_things_are_not_giving_up(matcher, text):
    # "i cant go on like this" and "i dont want to go on living" are heard (the corpus);
    # the same verbs about a trip or a club are not.
    assert matcher.categories(text) == []


def test_a_sure_phrase_is_acted_on_whatever_the_model_makes_of_it():
    from dialogs.safeguarding_model import PHRASE_DOUBT, Screen

    screen = Screen.for_content(load_content(ROOT / "content"))
    # The model scores these below the doubt line, which alone would make them a gentle check.
    for text in ("i was forced to have sex", "nuk me lene te ha darke"):
        assert screen.model.most_likely(text) < PHRASE_DOUBT, text
        assert screen.assess(text).tier == "clear", text
    # A denial still cancels it, as for any phrase of its category.
    assert screen.assess("nobody made me have sex").tier is None
