"""Upcoming reviews imported from a CSV file exported by the council's case system.

Upload -> choose which column is which (guessed from the headers) -> a dry run that says, row by
row, what would happen (new, unchanged, updated, or not imported and why, naming the row and the
column) -> confirm. Nothing is written to the reviews until then, and importing the same file
again changes nothing: a row is matched to a review by the child's case reference (their child
key, bot/reviews.py) and the review's date.

Who: an admin, for any IRO; an IRO, for their own reviews only (rows for another IRO are not
imported). The file is kept only between upload and confirmation, sealed, for its uploader; it
is deleted when the import is confirmed or cancelled, or an hour after upload.

Reviews are made by `new_review_row` (bot/reviews.py), as `myreview review add` makes them.
Their invite codes are not shown here (a file of codes would be a list of keys to children's
chats): each child's IRO gives them theirs with a new code when they send the invite.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from bot.reviews import child_key, import_changes, new_review_row
from dialogs.context import Services
from storage.content import Content
from storage.models import EMAIL, Review, ReviewCreate, StaffMember
from storage.repositories import Repositories
from storage.types import one_line

MAX_BYTES = 1_000_000
MAX_ROWS = 2_000
# An import not confirmed within this long is deleted, file and all.
KEEP = timedelta(hours=1)
# The time a review is given when the file has none.
DEFAULT_TIME = time(9, 0)
# A date further away than this is a typing mistake in the year, most likely.
FURTHEST = timedelta(days=2 * 366)
SEPARATORS = {",": "commas", ";": "semicolons", "\t": "tabs"}


class FileRefused(ValueError):
    """The file cannot be imported at all; the message says why and what to do."""


# --- The fields a column can be -----------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    hint: str
    # Headers that mean this field, as `normal` makes them. Single words are matched only as
    # the whole header ("date"); longer ones also inside one ("next review date").
    headers: tuple[str, ...]
    required: bool = False


FIELDS: tuple[Field, ...] = (
    Field(
        "case_reference",
        "Case reference",
        "The council's reference for the child. A later import finds the review by it and "
        "the review date, and a child's reviews are linked by it.",
        (
            "case reference",
            "case ref",
            "case no",
            "case number",
            "child reference",
            "child ref",
            "child id",
            "person id",
            "client id",
            "mosaic id",
            "lcs id",
            "reference",
            "id",
        ),
        required=True,
    ),
    Field(
        "review_date",
        "Review date",
        "Day/month/year, as in 14/03/2027. A time in the same column is read too.",
        (
            "review date",
            "date of review",
            "next review date",
            "next review",
            "review due date",
            "review due",
            "due date",
            "date",
        ),
        required=True,
    ),
    Field(
        "review_time",
        "Review time",
        "As 10:30 or 2:30pm. With no time, the review is set at 9:00.",
        ("review time", "time of review", "start time", "time"),
    ),
    Field(
        "first_name",
        "First name",
        "The child's first name, as on the case record.",
        (
            "first name",
            "first names",
            "forename",
            "forenames",
            "given name",
            "given names",
            "firstname",
            "child first name",
            "child forename",
        ),
        required=True,
    ),
    Field(
        "preferred_name",
        "Preferred name",
        "The name the child is known by, if it is not their first name.",
        ("preferred name", "known as", "preferred first name", "nickname"),
    ),
    Field(
        "date_of_birth",
        "Date of birth",
        "Day/month/year. The child's age on the review day picks the questions they are "
        "asked (a date of birth or an age is needed).",
        ("date of birth", "dob", "birth date", "birthdate", "d o b"),
    ),
    Field("age", "Age", "If there is no date of birth.", ("age", "age at review")),
    Field(
        "iro_email",
        "IRO email",
        "The email the IRO signs in with: the review is theirs.",
        (
            "iro email",
            "iro e mail",
            "iro email address",
            "reviewing officer email",
            "independent reviewing officer email",
        ),
    ),
    Field(
        "iro_name",
        "IRO name",
        "Told to the child. With no column, the name on the IRO's staff account.",
        (
            "iro name",
            "iro",
            "reviewing officer",
            "independent reviewing officer",
            "allocated iro",
            "iro full name",
        ),
    ),
    Field(
        "place",
        "Place",
        "Where the review is held, told to the child.",
        ("place", "venue", "location", "review venue", "review location", "where"),
    ),
    Field(
        "language",
        "Language",
        "The child's language (English, Arabic, Albanian, or en, ar, sq): the chat starts in it.",
        ("language", "first language", "preferred language", "main language", "language spoken"),
    ),
    Field(
        "uasc",
        "UASC",
        "Yes for an unaccompanied asylum-seeking child.",
        ("uasc", "unaccompanied", "unaccompanied asylum seeking child", "asylum seeker"),
    ),
    Field(
        "easy_read",
        "Easy read",
        "Yes to ask on the easy path (short questions, pictures, taps), whatever their age.",
        ("easy read", "easy path"),
    ),
)
BY_NAME = {f.name: f for f in FIELDS}


def normal(header: str) -> str:
    """A header as compared: lower case, letters and digits, one space between words."""
    return " ".join(re.sub(r"[^0-9a-z]+", " ", header.casefold()).split())


# --- Reading the file ---------------------------------------------------------------------------


@dataclass
class Table:
    headers: list[str]
    # Each row with its number as a spreadsheet shows it (the header row is row 1).
    rows: list[tuple[int, list[str]]]
    separator: str

    def column_name(self, index: int) -> str:
        header = self.headers[index] if index < len(self.headers) else ""
        return f"'{header}'" if header else f"number {index + 1} (no header)"

    def example(self, index: int) -> str:
        for _, cells in self.rows:
            if index < len(cells) and cells[index].strip():
                value = one_line(cells[index])
                return value if len(value) <= 30 else value[:29] + "…"
        return ""


def decode(data: bytes) -> str:
    """The file's text: UTF-8 (with or without a byte order mark), UTF-16 with one (Excel's
    "Unicode text"), or Windows-1252 (Excel's "CSV" on Windows)."""
    if data.startswith(b"PK\x03\x04") or data.startswith(b"\xd0\xcf\x11\xe0"):
        raise FileRefused(
            "This is a spreadsheet file (Excel), not CSV. In the spreadsheet, choose "
            "File, Save a copy, and the type 'CSV UTF-8 (comma delimited)', then upload that."
        )
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError:
            raise FileRefused("The file could not be read as text (UTF-16).") from None
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            try:
                text = data.decode("cp1252")
            except UnicodeDecodeError:
                raise FileRefused(
                    "The file could not be read as text. Save it as 'CSV UTF-8' and upload "
                    "it again."
                ) from None
    if "\x00" in text:
        raise FileRefused("This does not look like a CSV file (it holds binary data).")
    return text


def _separator(first_line: str) -> str:
    """The separator that splits the header row into the most columns (commas if none do)."""
    best, most = ",", 1
    for sep in SEPARATORS:
        n = len(next(csv.reader([first_line], delimiter=sep), []))
        if n > most:
            best, most = sep, n
    return best


def read_table(text: str) -> Table:
    """The header row and the rows after it; blank rows are left out (but counted in the row
    numbers, as a spreadsheet counts them)."""
    first = next((line for line in text.splitlines() if line.strip()), None)
    if first is None:
        raise FileRefused("The file is empty.")
    # Excel's own hint, "sep=;", on a line before the headers.
    hint = re.fullmatch(r"\s*sep=(.)\s*", first)
    sep = hint.group(1) if hint and hint.group(1) in SEPARATORS else _separator(first)
    skip_hint = hint is not None
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep)
    headers: list[str] | None = None
    rows: list[tuple[int, list[str]]] = []
    number = 0
    try:
        for cells in reader:
            number += 1
            if not any(c.strip() for c in cells):
                continue
            if skip_hint:
                skip_hint = False
                continue
            if headers is None:
                headers = [one_line(c) for c in cells]
                continue
            rows.append((number, cells))
            if len(rows) > MAX_ROWS:
                raise FileRefused(
                    f"The file has more than {MAX_ROWS:,} rows of reviews. Import it in "
                    "parts (for example a month of reviews at a time)."
                )
    except csv.Error as exc:
        raise FileRefused(f"Row {number + 1} could not be read ({exc}).") from None
    if headers is None:
        raise FileRefused("The file is empty.")
    if len(headers) < 2:
        raise FileRefused(
            "Only one column was found. The file must have a header row and its columns "
            "separated by commas or semicolons: save it from the case system or spreadsheet "
            "as CSV."
        )
    if not rows:
        raise FileRefused("The file has a header row but no reviews under it.")
    return Table(headers=headers, rows=rows, separator=sep)


# --- Which column is which ------------------------------------------------------------------------


def guess_mapping(headers: list[str]) -> dict[str, int]:
    """Each field's column, guessed from the headers: a header that is one of the field's
    names first, then one that holds a name of two words or more ("Next review date")."""
    found: dict[str, int] = {}
    used: set[int] = set()
    heads = [normal(h) for h in headers]
    for f in FIELDS:
        for i, h in enumerate(heads):
            if i not in used and h in f.headers:
                found[f.name] = i
                used.add(i)
                break
    for f in FIELDS:
        if f.name in found:
            continue
        longer = sorted((n for n in f.headers if " " in n), key=len, reverse=True)
        for i, h in enumerate(heads):
            if i not in used and any(f" {n} " in f" {h} " for n in longer):
                found[f.name] = i
                used.add(i)
                break
    return found


def check_mapping(
    chosen: dict[str, str], columns: int, *, for_admin: bool
) -> tuple[dict[str, int], list[str]]:
    """The mapping from the form (field -> column number as text, "" for none), and what is
    wrong with it."""
    mapping: dict[str, int] = {}
    errors: list[str] = []
    for f in FIELDS:
        raw = chosen.get(f.name, "").strip()
        if raw == "":
            continue
        if not raw.isdigit() or int(raw) >= columns:
            errors.append(f"Choose the column for {f.label} from the list.")
            continue
        mapping[f.name] = int(raw)
    by_column: dict[int, list[str]] = {}
    for name, i in mapping.items():
        by_column.setdefault(i, []).append(BY_NAME[name].label)
    for labels in by_column.values():
        if len(labels) > 1:
            errors.append(f"One column is chosen for {' and '.join(labels)}: choose one each.")
    for f in FIELDS:
        if f.required and f.name not in mapping:
            errors.append(f"Choose the column that holds the {f.label.lower()}.")
    if "date_of_birth" not in mapping and "age" not in mapping:
        errors.append("Choose the column for the date of birth, or for the age.")
    if for_admin and "iro_email" not in mapping:
        errors.append("Choose the column for the IRO's email: each review is theirs.")
    return mapping, errors


# --- Reading a value ------------------------------------------------------------------------------

DATE_FORMATS = (
    "%d/%m/%Y",
    "%d/%m/%y",
    "%d-%m-%Y",
    "%d-%m-%y",
    "%d.%m.%Y",
    "%Y-%m-%d",
    "%d %b %Y",
    "%d %B %Y",
    "%d-%b-%Y",
    "%d-%b-%y",
    "%d %b %y",
)
TIME_FORMATS = ("%H:%M", "%H:%M:%S", "%H.%M", "%I:%M%p", "%I.%M%p", "%I%p", "%H%M")


def parse_date(text: str) -> date | None:
    value = " ".join(text.split())
    for fmt in DATE_FORMATS:
        try:
            return datetime.strptime(value, fmt).date()
        except ValueError:
            continue
    return None


def parse_time(text: str) -> time | None:
    value = text.replace(" ", "").upper()
    for fmt in TIME_FORMATS:
        try:
            return datetime.strptime(value, fmt).time()
        except ValueError:
            continue
    return None


def parse_when(text: str) -> tuple[date, time | None] | None:
    """A date, or a date and a time ("14/03/2027 10:30", "2027-03-14T10:30:00"). Midnight is
    read as no time: a date-only cell exported with one."""
    value = " ".join(text.replace("T", " ").split()) if re.match(r"^\d{4}-", text) else text
    value = " ".join(value.split())
    day = parse_date(value)
    if day is not None:
        return day, None
    head, _, tail = value.rpartition(" ")
    if not head:
        return None
    day, at = parse_date(head), parse_time(tail)
    if day is None:
        # "14 Mar 2027 2:30 pm": the time is the last two words.
        head2, _, mid = head.rpartition(" ")
        day, at = parse_date(head2), parse_time(mid + tail)
    if day is None or at is None:
        return None
    return day, (None if at == time(0, 0) else at)


YES = {"yes", "y", "true", "1", "x"}
NO = {"no", "n", "false", "0", ""}


def language_code(content: Content, text: str) -> str | None:
    """A language the chat speaks, by its code or name in any of its spellings; None if not."""
    said = normal(text)
    for code, loc in content.locales.items():
        names = {code, loc.meta.name, loc.meta.english_name or "", *loc.meta.synonyms}
        if said in {normal(n) for n in names if n}:
            return code
    return None


# --- The dry run ---------------------------------------------------------------------------


@dataclass
class RowResult:
    row: int
    outcome: str = "error"  # new | unchanged | updated | error
    case_reference: str = ""
    first_name: str = ""
    review_at: datetime | None = None
    iro_email: str = ""
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # For "updated": the fields that change (their labels) and their new values.
    changes: dict[str, Any] = field(default_factory=dict)
    data: ReviewCreate | None = None
    review_id: int | None = None
    child_key: str | None = None
    # Whether the file gave the review's time (else it is set at 9:00, and a review already
    # made keeps its own).
    timed: bool = False
    # What a review already made keeps, whatever the file says (a language the chat does not
    # speak does not clear the one it has).
    keep: set[str] = field(default_factory=set)

    @property
    def changed(self) -> list[str]:
        """What an update changes, as staff call it."""
        return [CHANGE_LABELS[a] for a in COMPARED if a in self.changes]


@dataclass
class Plan:
    rows: list[RowResult]
    table: Table

    def count(self, outcome: str) -> int:
        return sum(1 for r in self.rows if r.outcome == outcome)


@dataclass
class Who:
    """The person importing, and what the import may do."""

    member: StaffMember
    # Staff accounts by email (lower case): an IRO's name, and whether they can see it.
    staff: dict[str, StaffMember]

    @property
    def admin(self) -> bool:
        return self.member.holds("admin")


# ReviewCreate's field -> the import's field, to name the column of a validation error.
MODEL_FIELDS = {
    "first_name": "first_name",
    "preferred_name": "preferred_name",
    "date_of_birth": "date_of_birth",
    "age": "age",
    "is_uasc": "uasc",
    "iro_name": "iro_name",
    "iro_email": "iro_email",
    "review_at": "review_date",
    "language_hint": "language",
    "case_reference": "case_reference",
    "place": "place",
    "easy_read": "easy_read",
}
# What a matched review's fields are compared with, and the import field each comes from (the
# IRO's email before their name: a new IRO brings their name from their staff account).
COMPARED = {
    "first_name": "first_name",
    "preferred_name": "preferred_name",
    "date_of_birth": "date_of_birth",
    "age": "age",
    "is_uasc": "uasc",
    "iro_email": "iro_email",
    "iro_name": "iro_name",
    "review_at": "review_date",
    "language_hint": "language",
    "place": "place",
    "easy_read": "easy_read",
}
LIMITS = {"case_reference": 40, "first_name": 80, "preferred_name": 80, "place": 120}


class _Row:
    """One row's cells, read by field, with each problem named by its column."""

    def __init__(self, result: RowResult, cells: list[str], mapping: dict[str, int], t: Table):
        self.result, self.cells, self.mapping, self.table = result, cells, mapping, t

    def has(self, name: str) -> bool:
        return name in self.mapping

    def raw(self, name: str) -> str:
        i = self.mapping.get(name)
        return one_line(self.cells[i]) if i is not None and i < len(self.cells) else ""

    def problem(self, name: str, message: str) -> None:
        column = self.table.column_name(self.mapping[name]) if name in self.mapping else None
        where = f"column {column}" if column else BY_NAME[name].label
        self.result.problems.append(f"{where}: {message}")


def _read_row(
    row: _Row, *, who: Who, content: Content, tz: ZoneInfo, today: date
) -> dict[str, Any] | None:
    """The row's values as a ReviewCreate takes them; None (with problems noted) if it
    cannot be one."""
    values: dict[str, Any] = {}
    for name, limit in LIMITS.items():
        text = row.raw(name)
        if len(text) > limit:
            row.problem(name, f"longer than {limit} characters")
        values[name] = text or None
    if not values["case_reference"]:
        row.problem("case_reference", "empty: every review needs the child's case reference")
    if not values["first_name"]:
        row.problem("first_name", "empty: every review needs the child's first name")
    values.update(_row_when(row, tz=tz, today=today))
    values.update(_row_age(row, today=today))
    values.update(_row_iro(row, who=who))
    values["language_hint"] = None
    language = row.raw("language")
    if language:
        code = language_code(content, language)
        if code is None:
            row.result.notes.append(f"The chat does not speak '{language}': it will ask.")
            row.result.keep.add("language_hint")
        values["language_hint"] = code
    for flag, key in (("uasc", "is_uasc"), ("easy_read", "easy_read")):
        text = row.raw(flag).casefold()
        if text not in YES | NO:
            row.problem(flag, f"'{row.raw(flag)}' is not yes or no")
        values[key] = text in YES
    return None if row.result.problems else values


def _row_when(row: _Row, *, tz: ZoneInfo, today: date) -> dict[str, Any]:
    """The review's day and time (a day alone keeps the review's own time when it exists)."""
    when = parse_when(row.raw("review_date"))
    if when is None:
        shown = row.raw("review_date")
        row.problem(
            "review_date",
            f"'{shown}' is not a date: use day/month/year, as in 14/03/2027"
            if shown
            else "empty: every review needs its date",
        )
    at = when[1] if when else None
    if row.has("review_time") and row.raw("review_time"):
        at = parse_time(row.raw("review_time"))
        if at is None:
            row.problem("review_time", f"'{row.raw('review_time')}' is not a time, as 10:30")
    if when is None:
        return {}
    day = when[0]
    if day > today + FURTHEST:
        row.problem("review_date", f"{day:%d/%m/%Y} is more than two years away: the year?")
    row.result.timed = at is not None
    return {"review_at": datetime.combine(day, at or DEFAULT_TIME, tz).astimezone(UTC)}


def _row_age(row: _Row, *, today: date) -> dict[str, Any]:
    """Their date of birth or age: one of the two is needed, to ask the right questions."""
    dob_text, age_text = row.raw("date_of_birth"), row.raw("age")
    found: dict[str, Any] = {"date_of_birth": None, "age": None}
    if dob_text:
        dob = parse_date(dob_text)
        if dob is None:
            row.problem("date_of_birth", f"'{dob_text}' is not a date: use day/month/year")
        elif dob > today:
            row.problem("date_of_birth", f"{dob:%d/%m/%Y} has not come yet")
        found["date_of_birth"] = dob
    if age_text:
        if not age_text.isdigit() or not 3 <= int(age_text) <= 25:
            row.problem("age", f"'{age_text}' is not an age from 3 to 25")
        else:
            found["age"] = int(age_text)
    if not dob_text and not age_text:
        name = "date_of_birth" if row.has("date_of_birth") else "age"
        row.problem(name, "empty: a date of birth or an age is needed, to ask the right questions")
    return found


def _row_iro(row: _Row, *, who: Who) -> dict[str, Any]:
    """The review's IRO: an admin imports anyone's, an IRO their own (their email if the
    file gives none); a note where the IRO has no active account to see it."""
    email = row.raw("iro_email").lower()
    own = who.member.email
    if not who.admin and not email:
        email = own
    before = len(row.result.problems)
    if not email:
        row.problem("iro_email", "empty: every review needs its IRO")
    elif not EMAIL.fullmatch(email):
        row.problem("iro_email", f"'{email}' is not an email address")
    elif not who.admin and email != own:
        row.problem(
            "iro_email",
            f"this review is {email}'s: you can import your own reviews only (an admin can "
            "import anyone's)",
        )
    account = who.staff.get(email)
    name = row.raw("iro_name") or (account.display_name if account else "")
    if not name and len(row.result.problems) == before:
        row.problem(
            "iro_name",
            f"none given: add a column for it, or add {email} as staff first",
        )
    if len(row.result.problems) == before and email:
        if account is None:
            row.result.notes.append(f"{email} has no staff account yet: they see it once added.")
        elif not account.holds("iro") or not account.active:
            row.result.notes.append(f"{email} is not an active IRO's account: they cannot see it.")
    return {"iro_email": email, "iro_name": name}


async def plan_import(
    table: Table,
    mapping: dict[str, int],
    *,
    who: Who,
    content: Content,
    tz: ZoneInfo,
    secret: str,
    now: datetime,
    existing: Any,
) -> Plan:
    """What importing the table would do, row by row; writes nothing. `existing(child_keys)`
    gives the reviews already made for those children."""
    today = now.astimezone(tz).date()
    results: list[RowResult] = []
    wanted: dict[int, dict[str, Any]] = {}
    for number, cells in table.rows:
        result = RowResult(row=number)
        results.append(result)
        values = _plan_row(
            result,
            cells,
            mapping,
            table,
            who=who,
            content=content,
            tz=tz,
            today=today,
            secret=secret,
        )
        if values is not None:
            wanted[number] = values

    keys = sorted({r.child_key for r in results if r.child_key})
    reviews: list[Review] = await existing(keys) if keys else []
    _place(results, reviews, wanted, table, mapping, who=who, today=today, tz=tz)
    for result in results:
        if result.problems:
            result.outcome = "error"
    return Plan(rows=results, table=table)


def _plan_row(
    result: RowResult,
    cells: list[str],
    mapping: dict[str, int],
    table: Table,
    *,
    who: Who,
    content: Content,
    tz: ZoneInfo,
    today: date,
    secret: str,
) -> dict[str, Any] | None:
    """One row read and checked as a review (`result.data`, `result.child_key`), or None with
    its problems."""
    row = _Row(result, cells, mapping, table)
    if len(cells) > len(table.headers) and any(c.strip() for c in cells[len(table.headers) :]):
        result.problems.append(
            f"it has {len(cells)} values but the header row has {len(table.headers)} "
            "columns: a value may hold a comma without quotes"
        )
    elif len(cells) == 1:
        result.problems.append(
            f"it has 1 value but the header row has {len(table.headers)} columns: are its "
            f"values separated by {SEPARATORS[table.separator]}, as in the header row?"
        )
    values = _read_row(row, who=who, content=content, tz=tz, today=today)
    result.case_reference = row.raw("case_reference")
    result.first_name = row.raw("first_name")
    result.iro_email = row.raw("iro_email").lower() or (who.member.email if not who.admin else "")
    if values is None:
        return None
    try:
        data = ReviewCreate.model_validate(values)
    except ValidationError as exc:
        for e in exc.errors():
            name = MODEL_FIELDS.get(str(e["loc"][0]) if e["loc"] else "", "case_reference")
            row.problem(name, str(e["msg"]).removeprefix("Value error, "))
        return None
    result.data = data
    result.review_at = data.review_at
    result.child_key = child_key(secret, data.case_reference)
    return values


def _place(
    results: list[RowResult],
    reviews: list[Review],
    wanted: dict[int, dict[str, Any]],
    table: Table,
    mapping: dict[str, int],
    *,
    who: Who,
    today: date,
    tz: ZoneInfo,
) -> None:
    """Each good row as a new review or a change to the one it matches (the same child on the
    same day); a second row for the same child and day, or a second new review for a child,
    is left out."""
    by_day: dict[tuple[str, date], Review] = {}
    for review in reviews:
        if review.child_key is not None:
            by_day[(review.child_key, review.review_at.astimezone(tz).date())] = review
    seen: dict[tuple[str, date], int] = {}
    first_new: dict[str, int] = {}
    for result in results:
        if result.data is None or result.child_key is None or result.review_at is None:
            continue
        day = result.review_at.astimezone(tz).date()
        key = (result.child_key, day)
        if key in seen:
            result.problems.append(
                f"the same case reference and review date as row {seen[key]}: left out"
            )
            continue
        seen[key] = result.row
        match = by_day.get(key)
        if match is not None:
            _matched(result, match, mapping, wanted[result.row], who, today, tz)
        elif result.child_key in first_new:
            result.problems.append(
                f"the same case reference as row {first_new[result.child_key]}, on another "
                "date: a child has one review to come at a time, so this row is left out"
            )
        else:
            where = f"column {table.column_name(mapping['review_date'])}"
            _new(result, day, today, reviews, tz, where)
            if result.outcome == "new":
                first_new[result.child_key] = result.row
                if not result.timed:
                    result.notes.append("No time given: set at 9:00.")


def _new(
    result: RowResult, day: date, today: date, reviews: list[Review], tz: ZoneInfo, where: str
) -> None:
    if day < today:
        result.problems.append(f"{where}: {day:%d/%m/%Y} has passed")
        return
    # A child has one review at a time: another still to come is most likely this one,
    # moved in the case system.
    for other in reviews:
        if (
            other.child_key == result.child_key
            and other.submitted_at is None
            and other.review_at.astimezone(tz).date() >= today
        ):
            when = other.review_at.astimezone(tz)
            result.problems.append(
                f"this child already has a review to come, on {when:%d/%m/%Y} (review "
                f"{other.id}). If it has moved, change that review's date; this row is left out"
            )
            return
    result.outcome = "new"


def _matched(
    result: RowResult,
    review: Review,
    mapping: dict[str, int],
    values: dict[str, Any],
    who: Who,
    today: date,
    tz: ZoneInfo,
) -> None:
    result.review_id = review.id
    if not who.admin and review.iro_email.strip().lower() != who.member.email:
        result.problems.append(
            "a review for this case reference on this date belongs to another IRO: ask an "
            "admin to import it"
        )
        return
    changes: dict[str, Any] = {}
    for attr, source in COMPARED.items():
        if source not in mapping and not (attr == "iro_name" and "iro_email" in changes):
            continue  # not in the file: left as it is
        if attr in result.keep:
            continue
        if source in ("date_of_birth", "age") and not values.get(source):
            continue  # one of the two given: the other is not cleared
        new, old = values[attr], getattr(review, attr)
        if attr == "iro_email":
            new, old = str(new).lower(), old.strip().lower()
        if attr == "review_at" and not result.timed:
            continue  # the same day, and no time in the file: the review keeps its own
        if new != old:
            changes[attr] = values[attr]
    if not changes:
        result.outcome = "unchanged"
        return
    if review.review_at.astimezone(tz).date() < today:
        result.problems.append("this review has been held: it is not changed")
        return
    result.changes = changes
    result.outcome = "updated"


CHANGE_LABELS = {
    "first_name": "first name",
    "preferred_name": "preferred name",
    "date_of_birth": "date of birth",
    "age": "age",
    "is_uasc": "UASC",
    "iro_name": "IRO name",
    "iro_email": "IRO",
    "review_at": "time",
    "language_hint": "language",
    "place": "place",
    "easy_read": "easy read",
}


# --- The import itself --------------------------------------------------------------------------


@dataclass
class Applied:
    created: list[Review] = field(default_factory=list)
    updated: list[Review] = field(default_factory=list)
    # New rows whose review was made meanwhile (the same rows imported at the same time).
    skipped: int = 0


# Rows written per transaction: a long import does not hold up children's chats.
BATCH = 200


async def apply_plan(
    plan: Plan,
    *,
    repos: Repositories,
    services: Services,
    secret: str,
    staff_id: int | None,
    import_id: int,
) -> Applied:
    """Makes the new reviews (as `myreview review add` does) and changes the updated ones,
    each audited, then audits the import. Call it outside a unit of work, once the import is
    claimed (its file deleted, so it runs once): each batch of rows is its own transaction,
    and a new row whose review has been made meanwhile is left out."""
    tz = services.timezone
    done = Applied()
    todo = [r for r in plan.rows if r.outcome in ("new", "updated")]
    for start in range(0, len(todo), BATCH):
        batch = todo[start : start + BATCH]
        async with repos.db.unit_of_work():
            keys = sorted({r.child_key for r in batch if r.outcome == "new" and r.child_key})
            made = {
                (review.child_key, review.review_at.astimezone(tz).date())
                for review in await repos.reviews.of_children(child_keys=keys)
            }
            for r in batch:
                await _apply_row(r, made, done, repos, services, secret, staff_id, import_id)
    async with repos.db.unit_of_work():
        await repos.audit.record(
            action="reviews.imported",
            staff_id=staff_id,
            details={
                "import": import_id,
                "rows": len(plan.rows),
                "new": len(done.created),
                "updated": len(done.updated),
                "unchanged": plan.count("unchanged") + done.skipped,
                "error": plan.count("error"),
            },
        )
    return done


async def _apply_row(
    r: RowResult,
    made: set[tuple[str | None, date]],
    done: Applied,
    repos: Repositories,
    services: Services,
    secret: str,
    staff_id: int | None,
    import_id: int,
) -> None:
    if r.outcome == "new" and r.data is not None:
        if (r.child_key, r.data.review_at.astimezone(services.timezone).date()) in made:
            done.skipped += 1
            return
        # The code is not shown: the IRO gives the child one with the invite.
        review, _ = await new_review_row(services, data=r.data, secret=secret)
        done.created.append(review)
        await repos.audit.record(
            action="review.created",
            staff_id=staff_id,
            review_id=review.id,
            details={"via": "import", "import": import_id, "row": r.row},
        )
    elif r.outcome == "updated" and r.review_id is not None:
        review = await import_changes(services, review_id=r.review_id, values=r.changes)
        done.updated.append(review)
        await repos.audit.record(
            action="review.updated",
            staff_id=staff_id,
            review_id=review.id,
            details={"via": "import", "import": import_id, "fields": sorted(r.changes)},
        )
