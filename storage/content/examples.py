"""The labelled sentences the statistical safeguarding layer is trained on
(content/safeguarding/examples/*.tsv), read and checked row by row.

Every row is checked, and one ContentError lists every problem found, each with its file, line
and fix, as the rest of content/ is checked.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from storage.content.lines import ContentError, Problem
from storage.content.schema import MAX_TEXT, SAFEGUARDING_CATEGORIES

EXAMPLE_HEADER = ("category", "text", "source")
ORDINARY = "ordinary"


@dataclass(frozen=True)
class Example:
    locale: str
    category: str
    text: str
    source: str
    where: str


def load_examples(directory: Path) -> list[Example]:
    """The labelled sentences in `directory` (content/safeguarding/examples): one file per
    locale or part of one (`en.tsv`, `en-ordinary.tsv`), tab-separated, with a header line.
    Checked as the phrase files are: an error names the file, the line and the fix, for every
    row that is wrong."""
    files = sorted(directory.glob("*.tsv"))
    if not files:
        missing = Problem(directory, None, "no example files (*.tsv). Restore them from git.")
        raise ContentError.of([missing], directory)
    examples: list[Example] = []
    problems: list[Problem] = []
    seen: dict[tuple[str, str], str] = {}
    for path in files:
        for n, row in _rows(path, problems):
            read = _read_row(path, n, row)
            if isinstance(read, Problem):
                problems.append(read)
                continue
            key = (read.locale, " ".join(read.text.casefold().split()))
            if key in seen:
                problems.append(
                    Problem(path, n, f"the same text is already at {seen[key]}; keep one.")
                )
                continue
            seen[key] = read.where
            examples.append(read)
    if problems:
        raise ContentError.of(problems, directory)
    return examples


def _rows(path: Path, problems: list[Problem]) -> list[tuple[int, str]]:
    """The numbered rows under the header; none, with the problem said, when the file cannot
    be read as examples at all."""
    try:
        rows = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        problems.append(Problem(path, None, f"not UTF-8 text ({exc}). Save it as UTF-8."))
        return []
    if not rows or tuple(rows[0].split("\t")) != EXAMPLE_HEADER:
        header = "\t".join(EXAMPLE_HEADER)
        problems.append(
            Problem(
                path,
                1,
                f"the first line must be the header '{header}' (separated by tabs).",
            )
        )
        return []
    return [(n, row) for n, row in enumerate(rows[1:], start=2) if row.strip()]


def _read_row(path: Path, n: int, row: str) -> Example | Problem:
    cells = row.split("\t")
    if len(cells) != 3:
        return Problem(
            path,
            n,
            f"{len(cells)} cells; each line is category, text and source, separated by tabs, "
            "with no tab inside the text.",
        )
    category, text, source = (c.strip() for c in cells)
    if category not in (*SAFEGUARDING_CATEGORIES, ORDINARY):
        return Problem(
            path,
            n,
            f"unknown category '{category}'; use one of {[*SAFEGUARDING_CATEGORIES, ORDINARY]}.",
        )
    if not text or len(text) > MAX_TEXT:
        return Problem(path, n, f"the text must be 1 to {MAX_TEXT} characters.")
    if not source:
        return Problem(path, n, "say where the example came from (source).")
    return Example(path.stem.split("-")[0], category, text, source, f"{path}, line {n}")
