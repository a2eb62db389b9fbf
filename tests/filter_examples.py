"""Drops training examples too like any held-out line, without showing either.

`python tests/filter_examples.py content/safeguarding/examples/ar-t.tsv ...` rewrites each file
without the rows whose text (or any message of it, for rows written as `a / b / c`) is within
80% similarity of any line of any frozen round in tests/data/ (every `heldout*` folder, measured
or not, and every message and joined sequence of their sequences), in the file's language. It
prints only counts: whoever adds examples never reads the held-out lines.
"""

from __future__ import annotations

import sys
from difflib import SequenceMatcher
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from dialogs.safeguarding_model import normalize  # noqa: E402
from tests import screening_sets as sets  # noqa: E402

SIMILAR = 0.8
# A message this short ("ok", "lol") is in every set; only longer parts are compared alone.
PART_CHARS = 12


def held_out(locale: str) -> list[str]:
    lines = [*sets.heldout(locale, "disclosures"), *sets.heldout(locale, "ordinary")]
    for folder in sorted(p.name for p in sets.DATA.glob("heldout-v*")):
        read = sets._lines(folder)
        for kind in ("disclosures", "ordinary"):
            lines += read(locale, kind)
        if (sets.DATA / folder / f"sequences_disclosure_{locale}.jsonl").exists():
            for kind in ("disclosure", "ordinary"):
                for seq in sets._sequences(folder)(locale, kind):
                    lines += [*seq, " / ".join(seq)]
    return sorted({normalize(line) for line in lines})


def near(text: str, held: list[str]) -> bool:
    for h in held:
        m = SequenceMatcher(None, text, h, autojunk=False)
        if m.real_quick_ratio() >= SIMILAR and m.quick_ratio() >= SIMILAR and m.ratio() >= SIMILAR:
            return True
    return False


def too_like(text: str, held: list[str]) -> bool:
    parts = [p for p in text.split(" / ") if len(p) >= PART_CHARS] if " / " in text else []
    return any(near(normalize(t), held) for t in (text, *parts))


def main(paths: list[str]) -> None:
    cache: dict[str, list[str]] = {}
    for name in paths:
        path = Path(name)
        locale = path.name.split("-", 1)[0]
        held = cache.setdefault(locale, held_out(locale))
        head, *rows = path.read_text(encoding="utf-8").splitlines()
        kept = [r for r in rows if r.strip() and not too_like(r.split("\t")[1], held)]
        path.write_text("\n".join([head, *kept]) + "\n", encoding="utf-8")
        print(f"{path}: kept {len(kept)}, dropped {len(rows) - len(kept)}")


if __name__ == "__main__":
    main(sys.argv[1:])
