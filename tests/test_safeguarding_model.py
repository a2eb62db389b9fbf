"""The statistical layer: trained from content, loaded with no network, scored without
scikit-learn exactly as scikit-learn would, and never out of step with its examples."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from dialogs.safeguarding import SafeguardingMatcher
from dialogs.safeguarding_model import (
    Screen,
    ScreenModel,
    Trained,
    _fit_per_category,
    _vectorizer,
    train,
    training_set,
    windows,
)
from storage.content import ContentError, load_content, load_examples
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


def test_the_scorer_agrees_with_scikit_learn():
    # Fit on a slice of the examples, then score held-back ones both ways.
    examples = load_examples(EXAMPLES)
    fit, rest = examples[::2], examples[1::2][:300]
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


def test_training_is_reproducible_and_writes_a_loadable_model(tmp_path):
    # A small subset, one shuffle: the point is that the same examples give the same bytes, not
    # the model itself (`myreview safeguarding train` fits on them all, three shuffles). Twice
    # on a fifteenth, three shuffles, took over two minutes on a busy machine.
    examples = load_examples(EXAMPLES)[::15]
    phrases = SafeguardingMatcher(load_content(CONTENT).safeguarding)

    def fit() -> Trained:
        hits = lambda t: bool(phrases.categories(t))  # noqa: E731
        return train(examples, phrase_hits=hits, log=lambda _: None, repeats=1)

    one, two = fit(), fit()
    one.save(tmp_path / "a")
    two.save(tmp_path / "b")
    for name in ("screen.npz", "screen.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    loaded = ScreenModel.load(tmp_path / "a")
    assert loaded.thresholds == one.model.thresholds
    text = examples[0].text
    assert np.allclose(loaded.probabilities(text), one.model.probabilities(text), atol=1e-6)


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
