"""Content loads and is validated; an error names the file, the line and the fix."""

import re
import subprocess
import sys
import typing
from pathlib import Path

import pytest

from dialogs.ask import GLOBAL_CONTROLS, HELP_MENU, STEP_CONTROLS
from dialogs.messages import (
    CONTRACT,
    CONTROL_IDS,
    FLOW_QUESTIONS,
    MESSAGE_IDS,
    SYSTEM_QUESTIONS,
    TYPED_CONTROL_IDS,
)
from storage.content import ContentError, FileContentSource, Question, load_content

ROOT = Path(__file__).resolve().parent.parent


def _code() -> dict[str, str]:
    """Where the code reads content by id: the conversation, and the summary and handler in
    bot/. Not the contract itself, which would vouch for its own ids."""
    paths = [*(ROOT / "dialogs").glob("*.py"), *(ROOT / "bot").rglob("*.py")]
    contract = ROOT / "dialogs" / "messages.py"
    return {str(p.relative_to(ROOT)): p.read_text(encoding="utf-8") for p in paths if p != contract}


def test_shipped_content_is_valid_and_complete():
    content = load_content(ROOT / "content", required=CONTRACT)
    assert {"en", "ar", "sq"} <= set(content.locales)
    assert set(content.safeguarding) == {"en", "ar", "sq"}
    assert content.question("take_part").essential
    assert FileContentSource(ROOT / "content", required=CONTRACT).current().version


def test_the_contract_module_needs_no_bot_framework():
    # storage/ and any tool that checks content read the contract without the Bot Framework.
    code = (
        "import sys, dialogs.messages; print(any(m.startswith('botbuilder') for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.stdout.strip() == "False", out.stderr


def test_every_message_the_code_says_is_listed():
    used: set[str] = set()
    for source in _code().values():
        for call in re.findall(r"(?:say|msg)\(([^)]*)\)", source):
            used.update(re.findall(r'"([a-z_]+)"', call))
    used.update(f"media_{m}" for m in ("picture", "voice", "file"))
    used.update(f"answer_{m}" for m in ("picture", "voice", "file", "skipped", "not_sure", "any"))
    assert used - set(MESSAGE_IDS) == set()
    assert len(set(MESSAGE_IDS)) == len(MESSAGE_IDS), "a message is listed twice"
    # Both ways: a listed message nobody says is a leftover that content would have to keep.
    said_somewhere = "\n".join(_code().values())
    unsaid = {m for m in MESSAGE_IDS if m not in used and f'"{m}"' not in said_somewhere}
    assert unsaid == set()


def test_every_question_and_option_the_code_reads_by_id_is_declared():
    questions: set[str] = set()
    compared: set[str] = set()
    for source in _code().values():
        questions.update(re.findall(r'"qid": "([a-z_]+)"', source))
        questions.update(re.findall(r'\["qid"\] [!=]= "([a-z_]+)"', source))
        questions.update(
            re.findall(r'(?:answers\.get|text_of|\.question|label)\(["\']([a-z_]+)["\']', source)
        )
        compared.update(re.findall(r'[!=]= "([a-z_]+)"', source))
        compared.update(re.findall(r'\{"value": "([a-z_]+)"\}', source))
    declared = set(FLOW_QUESTIONS) | set(SYSTEM_QUESTIONS)
    assert questions - declared == set()
    # A literal the code compares with that is an option in content is an option it branches on.
    content = load_content(ROOT / "content")
    options = {
        o.id for q in (*content.questions, *content.system_questions.values()) for o in q.options
    }
    needs = [*FLOW_QUESTIONS.values(), *SYSTEM_QUESTIONS.values()]
    needed = {o for need in needs for o in need.options or ()}
    assert (compared & options) - needed == set()


def test_every_control_the_code_shows_or_reads_is_declared():
    shown = {*GLOBAL_CONTROLS, *STEP_CONTROLS, *HELP_MENU}
    for source in _code().values():
        shown.update(re.findall(r'"controls\.([a-z_]+)\.label"', source))  # submit, answered
    # Content may put these on any question (`controls: [...]` in consultation.yaml).
    on_questions = set(
        typing.get_args(typing.get_args(Question.model_fields["controls"].annotation)[0])
    )
    assert shown | on_questions == set(CONTROL_IDS)
    # Every control the child can type, which is all but "carry on" (a button after help).
    typed = {c for c in (*STEP_CONTROLS, *GLOBAL_CONTROLS) if c != "repeat"}
    assert typed == set(TYPED_CONTROL_IDS)


@pytest.fixture
def copy(tmp_path, content_copy):
    return content_copy(tmp_path / "content")


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def line_of(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


def test_unknown_question_type_names_file_and_line(copy):
    path = copy / "consultation.yaml"
    edit(path, "  - id: talk_to_iro\n    type: yesno", "  - id: talk_to_iro\n    type: yesorno")
    with pytest.raises(ContentError) as err:
        load_content(copy)
    msg = str(err.value)
    assert "consultation.yaml" in msg and f"line {line_of(path, 'yesorno')}" in msg
    assert "'single', 'multi', 'yesno', 'text' or 'language'" in msg


def test_condition_on_a_missing_option_says_which(copy):
    path = copy / "consultation.yaml"
    edit(path, "any_of: [not_come_someone_speaks]", "any_of: [not_coming]")
    with pytest.raises(
        ContentError, match=r"line \d+: 'take_part' has no options \['not_coming'\]"
    ):
        load_content(copy)


def test_missing_english_string_is_an_error_with_the_fix(copy):
    path = copy / "locales" / "en.yaml"
    edit(
        path,
        '  proud:\n    check: "Proud of"\n    prompt: "What is something you are proud of? 🌟"\n',
        '  proud:\n    check: "Proud of"\n',
    )
    with pytest.raises(ContentError, match=r"'questions.proud.prompt' is missing. Add it"):
        load_content(copy)


def test_misspelt_translation_key_names_the_line(copy):
    path = copy / "locales" / "sq.yaml"
    edit(path, "  welcome_back:", "  welcom_back:")
    with pytest.raises(ContentError) as err:
        load_content(copy)
    assert "sq.yaml, line " + str(line_of(path, "welcom_back:")) in str(err.value)
    assert "not in en.yaml" in str(err.value)


def test_translated_placeholder_must_match_english(copy):
    path = copy / "locales" / "sq.yaml"
    edit(path, "{iro}", "{IRO}")
    with pytest.raises(ContentError, match=r"Keep the \{placeholders\} exactly as in en.yaml"):
        load_content(copy)


def test_broken_yaml_names_the_line_and_suggests_quotes(copy):
    path = copy / "locales" / "en.yaml"
    edit(path, 'skipped: "No problem."', "skipped: No: problem.")
    with pytest.raises(
        ContentError, match=r"en.yaml, line \d+: the YAML cannot be read.*double quotes"
    ):
        load_content(copy)


def test_unknown_safeguarding_category_is_refused(copy):
    path = copy / "safeguarding" / "en.yaml"
    edit(path, "  self_harm:", "  selfharm:")
    with pytest.raises(ContentError, match="unknown categories"):
        load_content(copy)


def test_a_number_rule_with_an_unknown_category_names_its_line_and_the_categories(copy):
    path = copy / "safeguarding" / "en.yaml"
    edit(
        path,
        "  - category: self_harm\n    at_least: 10",
        "  - category: overdose\n    at_least: 10",
    )
    with pytest.raises(ContentError) as err:
        load_content(copy)
    message = str(err.value)
    assert "en.yaml, line" in message and "'overdose'" in message and "self_harm" in message


def test_a_sure_phrase_that_is_no_phrase_is_refused_by_name(copy):
    edit(
        copy / "safeguarding/en.yaml",
        "sure_phrases: [forced to have sex,",
        "sure_phrases: [forced sex,",
    )
    with pytest.raises(ContentError) as err:
        load_content(copy)
    assert "en.yaml" in str(err.value) and "sure_phrases ['forced sex'] are not phrases" in str(
        err.value
    )


def test_a_number_rule_no_number_can_meet_is_refused(copy):
    edit(copy / "safeguarding/en.yaml", "    at_most: 99\n", "    at_most: 9\n")
    with pytest.raises(ContentError) as err:
        load_content(copy)
    assert "en.yaml, line" in str(err.value) and "below at_least 18" in str(err.value)


def test_a_negatable_phrase_that_is_no_phrase_is_refused_by_name(copy):
    edit(
        copy / "safeguarding/en.yaml",
        "negatable_phrases: [suicidal,",
        "negatable_phrases: [suicide,",
    )
    edit(copy / "safeguarding/en.yaml", "    - suicide\n", "")
    with pytest.raises(ContentError) as err:
        load_content(copy)
    assert "en.yaml" in str(err.value) and "['suicide'] are not phrases" in str(err.value)


def test_a_safeguarding_phrase_too_short_to_be_safe_is_refused(copy):
    edit(copy / "safeguarding/en.yaml", "    - ran off from\n", "    - ran off\n")
    with pytest.raises(ContentError) as err:
        load_content(copy)
    message = str(err.value)
    assert "en.yaml, line" in message and "'ran off'" in message and "at least 6" in message


def test_ordinary_words_that_hide_a_short_phrase_are_not_flagged():
    from dialogs.safeguarding import SafeguardingMatcher

    matcher = SafeguardingMatcher(load_content(ROOT / "content").safeguarding)
    assert matcher.categories("a veteran officer came to school") == []
    assert matcher.categories("we went past the Iran office") == []
    assert "running_away" in matcher.categories("i ran off last night and slept in the park")


# --- Every problem at once -----------------------------------------------------------------------


def test_mistakes_in_two_files_are_reported_together_each_at_its_line(copy):
    consultation, sq = copy / "consultation.yaml", copy / "locales" / "sq.yaml"
    edit(consultation, "any_of: [not_come_someone_speaks]", "any_of: [not_coming]")
    edit(sq, "  welcome_back:", "  welcom_back:")
    with pytest.raises(ContentError) as err:
        load_content(copy)
    head, first, second = str(err.value).splitlines()
    assert head == f"2 problems in {copy}/:"
    # In file order: the consultation, then the languages.
    assert first.startswith(f"{consultation}, line {line_of(consultation, 'not_coming')}: ")
    assert "'take_part' has no options ['not_coming']" in first
    assert second.startswith(f"{sq}, line {line_of(sq, 'welcom_back:')}: ")
    assert "not in en.yaml" in second
    assert [p.path for p in err.value.problems] == [consultation, sq]


def test_a_file_that_cannot_be_read_stops_itself_but_not_the_others(copy):
    ar, phrases = copy / "locales" / "ar.yaml", copy / "safeguarding" / "en.yaml"
    edit(ar, "  skipped:", "  skipped: : :")
    edit(phrases, "    - ran off from\n", "    - ran off\n")
    with pytest.raises(ContentError) as err:
        load_content(copy)
    problems = [str(p) for p in err.value.problems]
    assert len(problems) == 2, problems
    assert problems[0].startswith(f"{ar}, line {line_of(ar, 'skipped: : :')}: the YAML cannot")
    short = phrases.read_text(encoding="utf-8").splitlines().index("    - ran off") + 1
    assert problems[1].startswith(f"{phrases}, line {short}: 'ran off' squashes")


def test_every_broken_example_row_is_reported(tmp_path):
    (tmp_path / "en.tsv").write_text(
        "category\ttext\tsource\nsad\tsome text\tme\nordinary\thello\tme\nsuicide\t\tme\n"
    )
    from storage.content import load_examples

    with pytest.raises(ContentError) as err:
        load_examples(tmp_path)
    assert str(err.value).splitlines() == [
        f"2 problems in {tmp_path}/:",
        *(str(p) for p in err.value.problems),
    ]
    assert [p.line for p in err.value.problems] == [2, 4]


def test_content_check_prints_every_problem_and_fails(copy):
    consultation, sq = copy / "consultation.yaml", copy / "locales" / "sq.yaml"
    edit(consultation, "any_of: [not_come_someone_speaks]", "any_of: [not_coming]")
    edit(sq, "  welcome_back:", "  welcom_back:")
    out = subprocess.run(
        [sys.executable, "-m", "bot.cli", "content", "check", "--content-dir", str(copy)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert out.returncode != 0
    assert "Content is not valid:\n2 problems in" in out.stderr, out.stderr
    assert f"{consultation}, line {line_of(consultation, 'not_coming')}: " in out.stderr
    assert f"{sq}, line {line_of(sq, 'welcom_back:')}: " in out.stderr


def test_content_check_checks_against_the_code_as_the_app_does(copy):
    edit(copy / "locales" / "en.yaml", "  welcome_back:", "  welcome_backk:")
    out = subprocess.run(
        [sys.executable, "-m", "bot.cli", "content", "check", "--content-dir", str(copy)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert out.returncode != 0
    assert "'messages.welcome_back' is missing" in out.stderr, out.stderr
