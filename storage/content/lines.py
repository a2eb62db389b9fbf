"""YAML read with the line every value starts on, and the problems that name file, line and fix.

Every other module of the package reports through `Problem` and `ContentError`, so that a person
editing content/ is always told the same three things, however many problems there are.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError


@dataclass(frozen=True)
class Problem:
    """One thing wrong in one file: where (the line, when there is one) and how to fix it."""

    path: Path
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.path}, line {self.line}" if self.line else str(self.path)
        return f"{where}: {self.message}"


class ContentError(ValueError):
    """A content file is wrong. The message says where and how to fix it: one problem a line,
    counted at the top when there are several."""

    def __init__(self, message: str, problems: Sequence[Problem] = ()) -> None:
        super().__init__(message)
        self.problems: tuple[Problem, ...] = tuple(problems)

    @classmethod
    def of(cls, problems: Sequence[Problem], where: Path) -> ContentError:
        """One error for all of `problems`, already in the order they are to be read."""
        if len(problems) == 1:
            return cls(str(problems[0]), problems)
        head = f"{len(problems)} problems in {where}/:"
        return cls("\n".join([head, *(str(p) for p in problems)]), problems)


class Lines:
    """Maps a path of keys/indexes inside a YAML document to the line it starts on."""

    def __init__(self) -> None:
        self.by_path: dict[tuple[Any, ...], int] = {}

    def line(self, path: Iterable[Any]) -> int | None:
        p = tuple(path)
        while p:
            if p in self.by_path:
                return self.by_path[p]
            p = p[:-1]
        return self.by_path.get((), None)


def problem_at(path: Path, lines: Lines, loc: Iterable[Any], message: str) -> Problem:
    """A problem at the value `loc` (keys and indexes) in the file, or its nearest parent."""
    return Problem(path, lines.line(loc), message)


def schema_problems(
    path: Path, lines: Lines, exc: ValidationError, prefix: tuple[Any, ...] = ()
) -> list[Problem]:
    """Pydantic's errors, one problem each, at the line of the value it refused."""
    out = []
    for err in exc.errors():
        loc = (*prefix, *err["loc"])
        where = ".".join(str(p) for p in loc) or "(top)"
        out.append(Problem(path, lines.line(loc), f"at {where}: {err['msg']}"))
    return out


def load_yaml(path: Path) -> tuple[Any, Lines]:
    """The document and its lines. Raises ContentError (one problem) when it cannot be read."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        problem = Problem(path, None, f"not UTF-8 text ({exc}). Save the file as UTF-8.")
        raise ContentError.of([problem], path.parent) from exc
    try:
        node = yaml.compose(text, Loader=_PARSER)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        problem = Problem(
            path,
            line,
            f"the YAML cannot be read ({exc.problem}). "
            "Check indentation and that text with ':' or '#' is in double quotes.",
        )
        raise ContentError.of([problem], path.parent) from exc
    lines = Lines()
    if node is None:
        return None, lines
    return _construct(node, (), lines), lines


# libyaml's parser when the platform has it (ten times faster); both keep line numbers.
_PARSER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# One loader to turn scalar nodes into values (ints, bools, strings) the way safe_load does.
_SCALARS = yaml.SafeLoader("")


def _construct(node: yaml.Node, path: tuple[Any, ...], lines: Lines) -> Any:
    lines.by_path[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for k_node, v_node in node.value:
            key = _SCALARS.construct_object(k_node)  # scalar keys only
            if not isinstance(key, str):
                # `yes:` or `1:` as a key means something else in YAML; ids must be text.
                key = str(k_node.value)
            out[key] = _construct(v_node, (*path, key), lines)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_construct(v, (*path, i), lines) for i, v in enumerate(node.value)]
    return _SCALARS.construct_object(node)
