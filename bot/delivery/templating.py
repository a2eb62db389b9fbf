"""The email templates' Jinja environment, the start-up render that checks them, and the
explanation of a template error an officer can act on.

Officers edit these files, so they are rendered in a sandbox. Every value a template inserts is
made safe to show (dialogs/display.py): in HTML it is also escaped; in plain text a line break
inside it cannot start a line of its own. The templates are rendered once at start-up with
sample data (`check_templates`), so a typo stops the app there, naming the file and line,
instead of failing a child's Send.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import traceback
from collections.abc import Mapping
from functools import partial
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import (
    BytecodeCache,
    FileSystemLoader,
    StrictUndefined,
    TemplateNotFound,
    TemplateSyntaxError,
    pass_context,
    select_autoescape,
)
from jinja2.bccache import Bucket
from jinja2.exceptions import SecurityError, TemplateRuntimeError, UndefinedError
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment
from jinja2.utils import missing
from markupsafe import Markup

from bot.delivery.samples import sample_data
from dialogs.display import continued, shown
from storage.content import Content, ContentError

TEMPLATES = ("summary.txt", "summary.html", "alert.txt", "alert.html")
# Each email's subject line, rendered alone and made one line (`Templates.subject`).
SUBJECTS = ("summary_subject.txt", "alert_subject.txt")


class MissingName(UndefinedError):
    """A name a template used that its data does not have, with what it was looked up in
    (`jinja2.utils.missing` for a top-level name), so the error can list the names there are."""

    def __init__(self, message: str | None = None, *, parent: Any, name: Any) -> None:
        super().__init__(message)
        self.parent = parent
        self.name = name


class _Strict(StrictUndefined):
    """StrictUndefined whose error keeps what was missing and where it was looked for."""

    __slots__ = ()

    def __init__(
        self,
        hint: str | None = None,
        obj: Any = missing,
        name: Any = None,
        exc: type[TemplateRuntimeError] = UndefinedError,
    ) -> None:
        super().__init__(hint, obj, name, exc)
        if exc is UndefinedError:  # the sandbox's SecurityError stays what it is
            self._undefined_exception = partial(MissingName, parent=obj, name=name)  # type: ignore[assignment]


@pass_context
def _safe_to_show(context: Context, value: Any) -> Any:
    """Every inserted value, before it is escaped: nothing in it can hide or reorder text, and
    in plain text its further lines are marked as continuing it (a subject is made one line
    whole, by `Templates.subject`)."""
    if isinstance(value, Markup):
        return Markup(shown(str(value)))
    if isinstance(value, str):
        one_line = context.eval_ctx.autoescape or context.name in SUBJECTS
        return shown(value) if one_line else continued(shown(value))
    return value


class _CompiledOnce(BytecodeCache):
    """Compiled templates kept in memory, keyed by Jinja on the file and a checksum of its
    source: an edited file is compiled again, an unchanged one is not compiled by every app the
    process makes (the start-up check renders each of them; about 0.1 s an app)."""

    def __init__(self) -> None:
        self._code: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        code = self._code.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket: Bucket) -> None:
        self._code[bucket.key] = bucket.bytecode_to_string()


class Templates:
    """One sandboxed Environment: officers edit these files, so they must not reach Python."""

    # Shared by every Templates: all are configured alike, and the key names the file.
    _compiled = _CompiledOnce()

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.env = SandboxedEnvironment(
            loader=FileSystemLoader(str(directory)),
            bytecode_cache=self._compiled,
            autoescape=select_autoescape(enabled_extensions=("html",), default=False),
            undefined=_Strict,
            finalize=_safe_to_show,
            trim_blocks=True,
            lstrip_blocks=True,
        )

    def render(self, name: str, **data: Any) -> str:
        return self.env.get_template(name).render(**data)

    def subject(self, name: str, **data: Any) -> str:
        """One line, whatever the template's lines: a line break typed into a name cannot go
        in a mail header; it would stop the email."""
        return " ".join(self.render(name, **data).split())


# --- checked at start-up ------------------------------------------------------------------------


def check_templates(content: Content, tz: ZoneInfo | None = None) -> None:
    """Renders every template with sample data that takes each of its branches (an updated
    summary and a first one, answers just for the IRO, a draft language, no answers at all, an
    alert before and after the invite code). Raises ContentError naming the file, the line and
    the fix, so a broken template stops the app at start-up, not a child's Send."""
    templates = Templates(content.templates_dir)
    samples = sample_data(content, tz or ZoneInfo("Europe/London"))
    for name in (*TEMPLATES, *SUBJECTS):
        for data in samples["summary" if name.startswith("summary") else "alert"]:
            try:
                templates.render(name, **data)
            except Exception as exc:  # whatever breaks it, the officer needs the file and line
                raise _explain(templates, name, exc, data) from exc


def _explain(templates: Templates, name: str, exc: Exception, data: dict[str, Any]) -> ContentError:
    """The error an officer can act on: which file, which line, and what to change."""
    if isinstance(exc, TemplateSyntaxError):
        path = Path(exc.filename) if exc.filename else templates.directory / name
        return ContentError(f"{path}, line {exc.lineno}: {_syntax_fix(templates, exc)}")
    path, line = _where(templates, name, exc)
    where = f"{path}, line {line}" if line else str(path)
    if isinstance(exc, TemplateNotFound) and exc.name == name:
        return ContentError(
            f"{path}: the template is missing. Put it back: the emails need all of "
            f"{', '.join((*TEMPLATES, *SUBJECTS))}."
        )
    if isinstance(exc, TemplateNotFound):
        return ContentError(
            f"{where}: there is no template {exc.name!r} in {templates.directory}. Check the "
            "spelling of its name, or add it."
        )
    if isinstance(exc, MissingName):
        return ContentError(f"{where}: {_spelling_fix(path, line, exc, data)}")
    if isinstance(exc, SecurityError):
        return ContentError(
            f"{where}: {exc} Templates can use only the names they are given, not Python."
        )
    return ContentError(
        f"{where}: the template fails with sample data ({type(exc).__name__}: {exc}). Check "
        "what that line does with the names it is given."
    )


def _where(templates: Templates, name: str, exc: Exception) -> tuple[Path, int | None]:
    """The innermost line of a template in the traceback (Jinja puts template lines there)."""
    root = templates.directory.resolve()
    found: tuple[Path, int | None] = (templates.directory / name, None)
    for frame in traceback.extract_tb(exc.__traceback__):
        path = Path(frame.filename)
        if path.resolve().is_relative_to(root):
            found = (path, frame.lineno)
    return found


_OPENS = ("if", "for", "macro", "call", "filter", "block", "with", "autoescape", "raw")


def _syntax_fix(templates: Templates, exc: TemplateSyntaxError) -> str:
    reason = (exc.message or "a syntax error").rstrip(".")
    message = f"the template cannot be read ({reason})."
    # Jinja says which kind of block is open, not where it opened; the officer needs where.
    unclosed = (
        _unclosed_block(templates, exc.source)
        if exc.source and "needs to be closed" in (exc.message or "")
        else None
    )
    if unclosed is not None:
        tag, line = unclosed
        return (
            f"{message} The {{% {tag} %}} on line {line} is never closed: add "
            f"{{% end{tag} %}} where it should end."
        )
    return (
        f"{message} Check that every {{% if %}} or {{% for %}} has its {{% endif %}} or "
        "{% endfor %}, and that every {{ has its }}."
    )


def _unclosed_block(templates: Templates, source: str) -> tuple[str, int] | None:
    """The innermost block tag still open at the end of the file, with its line."""
    stack: list[tuple[str, int]] = []
    after_begin = False
    try:
        for lineno, token, value in templates.env.lex(source):
            if token == "block_begin":
                after_begin = True
                continue
            if token == "whitespace":
                continue
            if after_begin and token == "name":
                if value in _OPENS:
                    stack.append((value, lineno))
                elif value.startswith("end") and stack and stack[-1][0] == value[3:]:
                    stack.pop()
            after_begin = False
    except TemplateSyntaxError:
        return None
    return stack[-1] if stack else None


def _spelling_fix(path: Path, line: int | None, exc: MissingName, data: dict[str, Any]) -> str:
    name = str(exc.name)
    expr = _expression(path, line, name) or name
    owner = expr.rpartition(".")[0]
    if exc.parent is missing:
        names, problem, among = list(data), f"the template is given no {name!r}", ""
    else:
        names = _names_of(exc.parent)
        problem = f"{owner} has no {name!r}" if owner else f"there is no {name!r} there"
        among = f" in {owner}" if owner else ""
    guess = difflib.get_close_matches(name, names, n=1)
    return (
        f"{problem}. Check the spelling of {{{{ {expr} }}}}: the names you can use{among} are "
        f"{', '.join(names)}." + (f" Is it {guess[0]!r}?" if guess else "")
    )


def _names_of(parent: Any) -> list[str]:
    if isinstance(parent, Mapping):
        return [str(k) for k in parent]
    if dataclasses.is_dataclass(parent):
        return [f.name for f in dataclasses.fields(parent)]
    return [n for n in dir(parent) if not n.startswith("_")]


def _expression(path: Path, line: int | None, name: str) -> str | None:
    """The dotted name on that line that ends in the missing one ("child.frist_name")."""
    if not line:
        return None
    try:
        text = path.read_text(encoding="utf-8").splitlines()[line - 1]
    except (OSError, IndexError, UnicodeDecodeError):
        return None
    found = re.search(rf"(?:[A-Za-z_]\w*\.)*{re.escape(name)}\b", text)
    return found.group() if found else None
