"""Reading content/ into a `Content`: each file read and fitted to its schema, every check in
`checks.CHECKS` run, and one `ContentError` listing every problem, in file order. Also the cache
of what was read, and `ContentSource`, through which the app gets its content.

A file that does not parse or does not fit its schema stops there (there is nothing to check
further in it), but every other file is read and every check that does not need it runs.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel, ValidationError

from storage.content.checks import run_checks
from storage.content.contract import ContentContract
from storage.content.lines import (
    ContentError,
    Lines,
    Problem,
    load_yaml,
    problem_at,
    schema_problems,
)
from storage.content.loaded import Loaded
from storage.content.runtime import Content, Locale
from storage.content.schema import (
    ANY_BAND,
    ConsultationFile,
    LocaleMeta,
    SafeguardingFile,
    placeholders,
)

# The last few contents read, by folder and the state of its files: reading and checking takes
# about 0.2 s, and a content is immutable, so the same files give the same object (every test
# builds an app; a running bot reloads only when a file changed).
_LOADED: OrderedDict[tuple[Any, ...], tuple[ContentContract | None, Content]] = OrderedDict()
LOADED_KEPT = 4


def _files_state(directory: Path) -> tuple[tuple[str, int, int], ...]:
    found = []
    for path in sorted(directory.rglob("*")):
        if path.is_file():
            st = path.stat()
            found.append((str(path.relative_to(directory)), st.st_mtime_ns, st.st_size))
    return tuple(found)


def load_content(
    directory: Path,
    *,
    required: ContentContract | None = None,
    required_messages: Iterable[str] = (),
) -> Content:
    """Read and validate content/, and check it against what the code relies on (`required`).
    Raises ContentError naming, for every problem found, the file, line and fix. The same
    files, unchanged, give the same (immutable) Content."""
    directory = Path(directory)
    messages = tuple(required_messages)
    key = (str(directory.resolve()), messages, _files_state(directory))
    hit = _LOADED.get(key)
    if hit is not None and hit[0] is required:
        _LOADED.move_to_end(key)
        return hit[1]
    content = _load_content(directory, required=required, required_messages=messages)
    _LOADED[key] = (required, content)
    while len(_LOADED) > LOADED_KEPT:
        _LOADED.popitem(last=False)
    return content


def _load_content(
    directory: Path,
    *,
    required: ContentContract | None,
    required_messages: Iterable[str],
) -> Content:
    loaded = Loaded(directory, _contract(required, required_messages))
    problems: list[Problem] = []
    order = [
        loaded.consultation_path,
        *sorted((directory / "locales").glob("*.yaml")),
        *sorted((directory / "safeguarding").glob("*.yaml")),
    ]
    _read_consultation(loaded, problems)
    for path in order[1:]:
        if path.parent.name == "locales":
            _read_locale(path, loaded, problems)
        else:
            _read_safeguarding(path, loaded, problems)
    problems += run_checks(loaded)
    if problems:
        raise ContentError.of(_in_file_order(problems, order), directory)
    return _content(loaded)


def _contract(
    required: ContentContract | None, required_messages: Iterable[str]
) -> ContentContract:
    # `required_messages` is the older, messages-only form of the contract; callers that still
    # pass it keep their check.
    contract = required or ContentContract()
    if required_messages:
        merged = dict.fromkeys([*contract.messages, *required_messages])
        contract = replace(contract, messages=tuple(merged))
    return contract


def _in_file_order(problems: Sequence[Problem], order: Sequence[Path]) -> list[Problem]:
    """By file, in the order the files are read (others after, as found), then by line."""
    rank = {path: i for i, path in enumerate(order)}
    for p in problems:
        rank.setdefault(p.path, len(rank))
    return sorted(problems, key=lambda p: (rank[p.path], p.line or 0))


M = TypeVar("M", bound=BaseModel)


# --- Reading each file: a file with problems of its own is not checked further -----------------


def _parsed(path: Path, loaded: Loaded, problems: list[Problem]) -> tuple[Any, Lines] | None:
    try:
        return load_yaml(path)
    except ContentError as exc:
        problems += exc.problems
        loaded.stopped.add(path)
        return None


def _fitted(
    model: type[M],
    data: Any,
    path: Path,
    lines: Lines,
    problems: list[Problem],
    prefix: tuple[Any, ...] = (),
) -> M | None:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems += schema_problems(path, lines, exc, prefix)
        return None


def _read_consultation(loaded: Loaded, problems: list[Problem]) -> None:
    path = loaded.consultation_path
    parsed = _parsed(path, loaded, problems)
    if parsed is None:
        return
    data, loaded.consultation_lines = parsed
    loaded.consultation = _fitted(ConsultationFile, data, path, parsed[1], problems)
    if loaded.consultation is None:
        loaded.stopped.add(path)


def _read_locale(path: Path, loaded: Loaded, problems: list[Problem]) -> None:
    parsed = _parsed(path, loaded, problems)
    if parsed is None:
        return
    data, lines = parsed
    found: list[Problem] = []
    if not isinstance(data, dict) or "meta" not in data:
        found.append(problem_at(path, lines, (), "a locale file starts with a 'meta:' block"))
        data = data if isinstance(data, dict) else {}
        meta = None
    else:
        meta = _fitted(LocaleMeta, data["meta"], path, lines, found, ("meta",))
    if meta is not None and meta.locale != path.stem:
        found.append(
            problem_at(
                path, lines, ("meta", "locale"), f"meta.locale must be '{path.stem}' (file name)"
            )
        )
    strings = _strings(data)
    found += _string_problems(path, lines, strings)
    problems += found
    if found or meta is None:
        loaded.stopped.add(path)
        return
    loaded.locales[meta.locale] = Locale(meta=meta, strings=strings, path=path)
    loaded.locale_lines[meta.locale] = lines


def _flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in data.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def _strings(data: Mapping[str, Any]) -> dict[str, Any]:
    """A locale's wording by dotted key. `prompt: {easy: "...", any: "..."}`: `any` is the
    wording for every other band, so it is the plain key."""
    strings = {}
    for key, value in _flatten({k: v for k, v in data.items() if k != "meta"}).items():
        head, _, last = key.rpartition(".")
        strings[head if last == ANY_BAND and head else key] = value
    return strings


def _string_problems(path: Path, lines: Lines, strings: Mapping[str, Any]) -> list[Problem]:
    """Each wording is text (a list of texts for synonyms), with whole {placeholders}."""
    found = []
    for key, value in strings.items():
        kpath = tuple(key.split("."))
        synonyms = key.endswith(".synonyms")
        ok = isinstance(value, str) or (
            synonyms and isinstance(value, list) and all(isinstance(s, str | int) for s in value)
        )
        if not ok:
            also = " or a list of texts" if synonyms else ""
            found.append(
                problem_at(path, lines, kpath, f"'{key}' must be text in double quotes{also}")
            )
        elif isinstance(value, str):
            try:
                placeholders(value)
            except ValueError as exc:
                found.append(problem_at(path, lines, kpath, f"'{key}': {exc}"))
    return found


def _read_safeguarding(path: Path, loaded: Loaded, problems: list[Problem]) -> None:
    parsed = _parsed(path, loaded, problems)
    if parsed is None:
        return
    data, lines = parsed
    sfile = _fitted(SafeguardingFile, data, path, lines, problems)
    if sfile is not None and sfile.locale != path.stem:
        problems.append(
            problem_at(path, lines, ("locale",), f"locale must be '{path.stem}' (file name)")
        )
        sfile = None
    if sfile is None:
        loaded.stopped.add(path)
        return
    loaded.safeguarding[sfile.locale] = sfile
    loaded.safeguarding_lines[sfile.locale] = lines


def _content(loaded: Loaded) -> Content:
    cfile = loaded.consultation
    assert cfile is not None  # no problems, so it was read
    directory = loaded.directory
    return Content(
        version=cfile.version,
        age_bands=tuple(cfile.age_bands),
        questions=tuple(cfile.questions),
        system_questions={q.id: q for q in cfile.system_questions},
        locales=loaded.locales,
        safeguarding=loaded.safeguarding,
        templates_dir=directory / "templates",
        directory=directory,
        safeguarding_dir=directory / "safeguarding",
        by_id={q.id: q for q in cfile.questions},
    )


# --- Where the app gets its content --------------------------------------------------------------


class ContentSource(Protocol):
    """Where content comes from. Today the files; later a published version in the database."""

    def current(self) -> Content: ...

    def version(self, version: str) -> Content: ...


class FileContentSource:
    """Content read once from a folder at start-up."""

    def __init__(
        self,
        directory: Path,
        *,
        required: ContentContract | None = None,
        required_messages: Iterable[str] = (),
    ) -> None:
        self._content = load_content(
            directory, required=required, required_messages=required_messages
        )

    def current(self) -> Content:
        return self._content

    def version(self, version: str) -> Content:
        # Only one version exists on disk; a consultation started on an older one carries on
        # with today's files until versioned content lands.
        return self._content
