"""A broken email template stops the app at start-up, naming the file, the line and the fix,
instead of failing the first child who presses Send (or discloses) and never retrying.

Each break is made in a copy of content/, as an officer editing a template would make it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from bot.app import build_parts
from bot.delivery.templating import TEMPLATES, check_templates
from dialogs.messages import CONTRACT
from storage.content import Content, ContentError, load_content
from tests.conftest import make_settings

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def copy(tmp_path: Path, content_copy: Callable[[Path], Path]) -> Path:
    return content_copy(tmp_path / "content")


def loaded(content: Path) -> Content:
    return load_content(content, required=CONTRACT)


def edit(content: Path, name: str, old: str, new: str) -> int:
    """Changes the first `old` in templates/`name`; returns the line it is on."""
    path = content / "templates" / name
    source = path.read_text(encoding="utf-8")
    assert old in source, f"{old!r} is not in {name}"
    path.write_text(source.replace(old, new, 1), encoding="utf-8")
    return source[: source.index(old)].count("\n") + 1


def test_the_real_templates_pass(copy: Path):
    check_templates(loaded(copy))


@pytest.mark.parametrize("name", TEMPLATES)
def test_a_misspelt_name_stops_the_app_naming_file_line_and_fix(copy: Path, name: str):
    line = edit(copy, name, "{{ child.first_name }}", "{{ child.frist_name }}")

    with pytest.raises(ContentError) as error:
        check_templates(loaded(copy))

    message = str(error.value)
    assert message.startswith(f"{copy / 'templates' / name}, line {line}: ")
    assert "check the spelling of {{ child.frist_name }}" in message.lower()
    assert "first_name" in message.replace("frist_name", "")  # the names it could be


@pytest.mark.parametrize("name", TEMPLATES)
def test_an_unclosed_if_stops_the_app_naming_where_it_opened(copy: Path, name: str):
    line = edit(copy, name, "{% if child", "{% if child.first_name %}{% if child")

    with pytest.raises(ContentError) as error:
        check_templates(loaded(copy))

    message = str(error.value)
    assert message.startswith(f"{copy / 'templates' / name}, line ")
    assert f"{{% if %}} on line {line} is never closed" in message
    assert "{% endif %}" in message


@pytest.mark.parametrize(
    ("name", "old", "new", "names"),
    [
        # Only in an alert raised before the invite code: the branch for no child.
        ("alert.txt", "{{ channel }}", "{{ chanel }}", "channel"),
        # Only in answers the child kept just for the IRO.
        ("summary.html", "{% for row in iro_only %}", "{% for row in iro_onyl %}", "iro_only"),
        # Only in a choice of how they take part that has a participation code.
        ("summary.txt", "participation.meaning", "participation.meanings", "meaning"),
        # Only for a written answer in another language.
        ("summary.txt", "row.language }}", "row.langauge }}", "language"),
    ],
)
def test_a_break_in_a_branch_only_some_emails_take_is_found_too(
    copy: Path, name: str, old: str, new: str, names: str
):
    line = edit(copy, name, old, new)

    with pytest.raises(ContentError) as error:
        check_templates(loaded(copy))

    assert str(error.value).startswith(f"{copy / 'templates' / name}, line {line}: ")
    assert f"Is it {names!r}?" in str(error.value)


def test_a_missing_template_stops_the_app(copy: Path):
    (copy / "templates" / "alert.html").unlink()

    with pytest.raises(ContentError, match="alert.html: the template is missing"):
        check_templates(loaded(copy))


def test_a_template_reaching_for_python_stops_the_app(copy: Path):
    line = edit(copy, "summary.txt", "{{ child.name }}", "{{ child.name.__class__ }}")

    with pytest.raises(ContentError, match=rf"summary.txt, line {line}: .*unsafe"):
        check_templates(loaded(copy))


def test_the_app_itself_refuses_to_start(tmp_path: Path, copy: Path):
    edit(copy, "summary.txt", "{{ child.first_name }}", "{{ child.frist_name }}")

    with pytest.raises(ContentError, match="summary.txt, line "):
        build_parts(make_settings(tmp_path, content_dir=copy))
