"""The statistical layer: trained from content, loaded with no network, scored without
scikit-learn exactly as scikit-learn would, and never out of step with its examples."""

from __future__ import annotations

import math
import shutil
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from dialogs.safeguarding import SafeguardingMatcher
from dialogs.safeguarding_model import (
    FALSE_ALARM_BUDGET,
    Screen,
    ScreenModel,
    Trained,
    _fit_per_category,
    _vectorizer,
    train,
    training_set,
    windows,
)
from storage.content import ORDINARY, ContentError, Example, load_content, load_examples
from tests.consult import chat_languages

ROOT = Path(__file__).resolve().parent.parent
CONTENT = ROOT / "content"
EXAMPLES = CONTENT / "safeguarding" / "examples"


@pytest.fixture(scope="module")
def screen() -> Screen:
    return Screen.for_content(load_content(CONTENT))


def test_the_committed_model_was_trained_on_todays_examples(screen):
    # Officers add examples; the model must be retrained (`myreview safeguarding train`).
    assert not screen.model.is_stale(training_set(load_content(CONTENT)))


def test_the_bots_own_buttons_and_control_words_are_never_a_worry(screen):
    content = load_content(CONTENT)
    labels = [
        (where, str(value))
        for locale in content.locales.values()
        for key, values in locale.strings.items()
        if key.endswith((".label", ".synonyms"))
        for value in (values if isinstance(values, list) else [values])
        for where in [f"{locale.meta.locale}: {key}"]
    ]
    assert len(labels) > 300
    flagged = [(where, text) for where, text in labels if screen.categories(text)]
    assert flagged == []
    # Editing the wording needs no retraining: the model never learnt it.
    assert all(e.source != "content" for e in training_set(content))


# Pieces of ordinary answers that model 7902fe8f98ce called clear on its own; and disclosures of
# more words that it alone hears.
FEW_WORDS = ["in front of everyone", "hes got a mad car", "i dont know anyone there", "i get £5"]
MORE_WORDS = ["theres never any food in the house for us", "nobody feeds us when mum goes out"]


def test_a_few_words_the_model_alone_hears_get_a_gentle_check_not_an_alarm(screen):
    """A child who types "in front of everyone" is asked "Is something making you feel
    unsafe?", with a note to the IRO, not told the duty team is being called."""
    model_only = [
        t for t in FEW_WORDS if screen.model.assess(t)[0] and not screen.phrases.categories(t)
    ]
    assert model_only, "the model calls none of these clear any more: choose others"
    assert {t: screen.assess(t).tier for t in model_only} == {t: "unsure" for t in model_only}
    longer = [
        t for t in MORE_WORDS if screen.model.assess(t)[0] and not screen.phrases.categories(t)
    ]
    assert longer, "the model alone hears none of these: choose others"
    assert {t: screen.assess(t).tier for t in longer} == {t: "clear" for t in longer}


def test_every_language_and_category_has_examples():
    examples = load_examples(EXAMPLES)
    for locale in chat_languages():
        mine = [e for e in examples if e.locale == locale]
        assert sum(e.category == "ordinary" for e in mine) >= 100, locale
        for category in screen_categories():
            assert sum(e.category == category for e in mine) >= 8, (locale, category)
    assert all(e.source for e in examples)


def screen_categories() -> list[str]:
    from storage.content import SAFEGUARDING_CATEGORIES

    return list(SAFEGUARDING_CATEGORIES)


def test_the_scorer_agrees_with_scikit_learn(sample):
    # Fit on a sample of the examples, then score held-back ones both ways.
    fit, seen = sample, {e.text for e in sample}
    rest = [e for e in load_examples(EXAMPLES) if e.text not in seen][::30]
    categories = sorted({e.category for e in fit} - {"ordinary"})
    vec = _vectorizer()
    x = vec.fit_transform([e.text for e in fit])
    models = _fit_per_category(x, [e.category for e in fit], categories)
    model = ScreenModel(
        vocabulary=sorted(vec.vocabulary_, key=vec.vocabulary_.get),
        idf=vec.idf_,
        coef=np.column_stack([lr.coef_[0] for lr in models]),
        intercept=np.array([lr.intercept_[0] for lr in models]),
        classes=categories,
        thresholds={},
        meta={},
    )
    ours = np.array([model.probabilities(e.text) for e in rest])
    xt = vec.transform([e.text for e in rest])
    theirs = np.column_stack([lr.predict_proba(xt)[:, 1] for lr in models])
    assert np.allclose(ours, theirs, atol=1e-9)


def stratified(
    examples: list[Example], *, disclosures: int = 15, ordinary: int = 80
) -> list[Example]:
    """A few hundred examples: so many of every language's every category, spread evenly
    through its files (`myreview safeguarding train` fits on them all, three shuffles; that
    run is timed in tests/benchmark.py)."""
    strata: dict[tuple[str, str], list[Example]] = defaultdict(list)
    for e in examples:
        strata[(e.locale, e.category)].append(e)
    sample = []
    for (_, category), mine in sorted(strata.items()):
        n = ordinary if category == ORDINARY else disclosures
        sample += mine[:: max(1, len(mine) // n)][:n]
    return sample


def fit(examples: list[Example]) -> Trained:
    phrases = SafeguardingMatcher(load_content(CONTENT).safeguarding)
    hits = lambda t: bool(phrases.categories(t))  # noqa: E731
    return train(examples, phrase_hits=hits, log=lambda _: None, repeats=1)


@pytest.fixture(scope="module")
def sample() -> list[Example]:
    return stratified(load_examples(EXAMPLES))


@pytest.fixture(scope="module")
def trained(sample: list[Example]) -> Trained:
    return fit(sample)


def test_training_on_a_sample_hears_what_the_phrases_miss_within_the_false_alarm_budget(
    sample, trained
):
    languages = chat_languages()
    assert 400 <= len(sample) <= 700
    assert set(trained.meta["examples"]) == {
        f"{locale}:{category}"
        for locale in languages
        for category in [ORDINARY, *screen_categories()]
    }
    validation = trained.meta["validation"]
    for locale in languages:
        both, phrases = validation["phrases_and_model"][locale], validation["phrases_only"][locale]
        # On examples each fold's model never saw, the model hears disclosures the phrases miss...
        assert both["recall"] >= phrases["recall"] + 0.15, (locale, both, phrases)
        # ...and flags no more of the ordinary sentences than its budget allows on top of theirs.
        allowed = math.floor(FALSE_ALARM_BUDGET * both["ordinary"]) / both["ordinary"]
        assert both["false_alarms"] - phrases["false_alarms"] <= allowed + 1e-9, locale
    thresholds, unsure = trained.model.thresholds, trained.meta["unsure_thresholds"]
    assert sum(t <= 1.0 for t in thresholds.values()) >= len(thresholds) // 2, thresholds
    assert unsure and all(unsure[c] < thresholds[c] for c in unsure)


def test_a_trained_model_knows_the_examples_it_was_trained_on(sample, trained):
    assert not trained.model.is_stale(sample)
    assert trained.model.is_stale(sample[1:])
    assert trained.model.is_stale(load_examples(EXAMPLES))


def test_training_is_reproducible_and_writes_a_loadable_model(tmp_path, sample, trained):
    # The same examples give the same bytes: retraining without a change shows none in git.
    again = fit(sample)

    trained.save(tmp_path / "a")
    again.save(tmp_path / "b")
    for name in ("screen.npz", "screen.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    loaded = ScreenModel.load(tmp_path / "a")
    assert loaded.thresholds == trained.model.thresholds
    text = sample[0].text
    assert np.allclose(loaded.probabilities(text), trained.model.probabilities(text), atol=1e-6)


def test_a_missing_or_broken_model_stops_the_start_naming_the_fix(tmp_path):
    content = tmp_path / "content"
    shutil.copytree(CONTENT, content)
    (content / "safeguarding" / "model" / "screen.npz").write_bytes(b"not a model")
    with pytest.raises(ContentError, match="myreview safeguarding train"):
        Screen.for_content(load_content(content))
    (content / "safeguarding" / "model" / "screen.npz").unlink()
    with pytest.raises(ContentError, match="missing"):
        Screen.for_content(load_content(content))


@pytest.mark.parametrize(
    ("row", "error"),
    [
        ("suicide\tsome text", "3 cells|2 cells"),
        ("sad\tsome text\tme", "unknown category 'sad'"),
        ("suicide\t\tme", "1 to 1000 characters"),
        ("suicide\tsome text\t", "say where the example came from"),
    ],
)
def test_a_broken_example_names_the_file_line_and_fix(tmp_path, row, error):
    (tmp_path / "en.tsv").write_text(f"category\ttext\tsource\nordinary\thello there\tme\n{row}\n")
    with pytest.raises(ContentError, match=f"en.tsv, line 3: .*({error})"):
        load_examples(tmp_path)


def test_a_repeated_example_is_refused(tmp_path):
    (tmp_path / "en.tsv").write_text("category\ttext\tsource\nordinary\tHello  there\tme\n")
    (tmp_path / "en-more.tsv").write_text("category\ttext\tsource\nsuicide\thello there\tme\n")
    with pytest.raises(
        ContentError, match=r"en.tsv, line 2: the same text is already at .*en-more"
    ):
        load_examples(tmp_path)


def test_a_disclosure_inside_a_long_message_is_not_diluted(screen):
    # Scored in windows: many ordinary sentences with one disclosure in the middle are flagged
    # as the disclosure alone is (taking ones only the model hears, not the phrases).
    ordinary = "school is fine and i like my football club and my carers are nice. " * 20
    heard = [
        e.text
        for e in load_examples(EXAMPLES)
        if e.category != "ordinary"
        and e.locale == "en"
        and screen.model.categories(e.text)
        and not screen.phrases.categories(e.text)
    ]
    assert len(heard) >= 20
    for text in heard[:20]:
        long = f"{ordinary} {text}. {ordinary}"
        assert len(windows(long)) > 1
        assert screen.model.categories(long), text


def test_an_invite_code_is_never_heard_as_a_worry(screen):
    # The code question screens what is typed like any other; a code that looked like a worry
    # would get help instead of being checked, for ever (the crash test found one).
    from dialogs.context import InviteCodes

    # The code the crash test's child had ("M3" reads as "me"), and thousands of random ones.
    codes = ["BWZ-M38-R9Y", "H3M-M3X-2QP"] + [InviteCodes.new() for _ in range(3000)]
    for code in codes:
        for typed in (code, code.lower(), code.replace("-", " "), code.replace("-", "")):
            assert screen.categories(typed) == [], typed
    # A worry typed at the code question is still heard.
    assert screen.categories("he hits me every night") != []
