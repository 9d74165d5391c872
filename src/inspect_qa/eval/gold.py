"""Gold question sets: loading, validation against the corpus, and the relevance test.

One JSON object a line::

    {"id": "q001", "question": "...", "answer": "short answer", "tags": ["number"],
     "evidence": [{"source": "004_c317150f610727ac.txt", "quote": "verbatim words"}]}

``tags`` is optional. An unanswerable question has ``"answer": null`` and ``"evidence": []``.
``source`` is a document id (path relative to the corpus folder). Quotes are compared after
:func:`fold` (case, whitespace runs, curly quotes and dashes folded), so a quote copied from a
PDF line break or typed with straight quotes still matches.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import GoldSetError

_FOLD = {
    **dict.fromkeys("‘’‚‛′`´", "'"),
    **dict.fromkeys("“”„‟″«»", '"'),
    **dict.fromkeys("‐‑‒–—―−⁃", "-"),
}
_KEYS = {"id", "question", "answer", "tags", "evidence"}


def fold_with_offsets(text: str) -> tuple[str, list[int]]:
    """:func:`fold` of ``text`` and, for each folded character, its offset in ``text``."""
    out: list[str] = []
    where: list[int] = []
    space = False
    for i, ch in enumerate(text):
        if ch.isspace():
            space = bool(out)
            continue
        if space:
            out.append(" ")
            where.append(i - 1)
            space = False
        for c in _FOLD.get(ch, ch).lower():
            out.append(c)
            where.append(i)
    return "".join(out), where


def fold(text: str) -> str:
    """Lower-case; whitespace runs → one space, ends stripped; curly quotes → straight; dashes → -."""
    return fold_with_offsets(text)[0]


def contains_quote(text: str, quote: str) -> bool:
    """Whether ``text`` holds the whole of ``quote`` (both folded)."""
    q = fold(quote)
    return bool(q) and q in fold(text)


def locate(text: str, quote: str) -> tuple[tuple[int, int], ...]:
    """Every ``(start, end)`` in ``text`` where ``quote`` occurs (folded comparison)."""
    folded, where = fold_with_offsets(text)
    q = fold(quote)
    spans = []
    pos = folded.find(q) if q else -1
    while pos >= 0:
        spans.append((where[pos], where[pos + len(q) - 1] + 1))
        pos = folded.find(q, pos + 1)
    return tuple(spans)


@dataclass(frozen=True)
class Evidence:
    """A verbatim quote that answers the question, its source, and where it occurs there."""

    source: str
    quote: str
    spans: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True)
class GoldItem:
    """One gold question. ``answer`` is ``None`` when the corpus does not answer it."""

    id: str
    question: str
    answer: str | None
    tags: tuple[str, ...]
    evidence: tuple[Evidence, ...]
    line: int

    @property
    def answerable(self) -> bool:
        return self.answer is not None

    def is_hit(self, source: str, text: str) -> int | None:
        """Index of the first evidence a passage (``source``, ``text``) holds whole, else None."""
        for i, ev in enumerate(self.evidence):
            if ev.source == source and contains_quote(text, ev.quote):
                return i
        return None


def _parse(raw: Any, where: str, line: int, documents: Mapping[str, str] | None) -> GoldItem:
    if not isinstance(raw, dict):
        raise GoldSetError(f"{where}: a line must be a JSON object")
    extra = sorted(set(raw) - _KEYS)
    if extra:
        raise GoldSetError(f"{where}: unknown field(s) {extra}; allowed: {sorted(_KEYS)}")
    for key in ("id", "question"):
        if not isinstance(raw.get(key), str) or not raw[key].strip():
            raise GoldSetError(f"{where}: {key!r} must be non-empty text")
    answer = raw.get("answer", ...)
    if answer is ... or not (answer is None or (isinstance(answer, str) and answer.strip())):
        raise GoldSetError(f"{where}: 'answer' must be non-empty text, or null when unanswerable")
    tags = raw.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) and t for t in tags):
        raise GoldSetError(f"{where}: 'tags' must be a list of words")
    evidence = raw.get("evidence")
    if not isinstance(evidence, list):
        raise GoldSetError(f"{where}: 'evidence' must be a list ([] when unanswerable)")
    if answer is None and evidence:
        raise GoldSetError(f"{where}: an unanswerable question (answer null) has no evidence")
    if answer is not None and not evidence:
        raise GoldSetError(f"{where}: an answered question needs at least one evidence quote")
    items = []
    for n, ev in enumerate(evidence, 1):
        if (not isinstance(ev, dict) or set(ev) != {"source", "quote"}
                or not all(isinstance(ev[k], str) and ev[k].strip() for k in ev)):
            raise GoldSetError(f"{where}: evidence {n} must be {{\"source\": ..., \"quote\": ...}}")
        spans: tuple[tuple[int, int], ...] = ()
        if documents is not None:
            if ev["source"] not in documents:
                raise GoldSetError(f"{where}: evidence {n} names source {ev['source']!r}, which "
                                   "is not in the corpus")
            spans = locate(documents[ev["source"]], ev["quote"])
            if not spans:
                raise GoldSetError(f"{where}: evidence {n}: quote {ev['quote'][:60]!r} is not in "
                                   f"{ev['source']}")
        items.append(Evidence(ev["source"], ev["quote"], spans))
    return GoldItem(raw["id"], " ".join(raw["question"].split()), answer, tuple(tags),
                    tuple(items), line)


def load_gold(path: str | Path, documents: Mapping[str, str] | None = None) -> list[GoldItem]:
    """Read and validate a gold file; with ``documents`` (id → text), check every quote.

    Raises:
        GoldSetError: naming the file and line of the first bad line (and how many more).
    """
    p = Path(path)
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise GoldSetError(f"cannot read gold file {p}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise GoldSetError(f"gold file {p} is not UTF-8 text") from exc
    items: list[GoldItem] = []
    errors: list[str] = []
    seen: dict[str, int] = {}
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{p}:{n}"
        try:
            try:
                raw = json.loads(line)
            except json.JSONDecodeError as exc:
                raise GoldSetError(f"{where}: not valid JSON ({exc.msg})") from exc
            item = _parse(raw, where, n, documents)
            if item.id in seen:
                raise GoldSetError(f"{where}: id {item.id!r} repeats line {seen[item.id]}")
            seen[item.id] = n
            items.append(item)
        except GoldSetError as exc:
            errors.append(str(exc))
    if errors:
        more = f" (and {len(errors) - 1} more bad line(s))" if len(errors) > 1 else ""
        raise GoldSetError(errors[0] + more)
    if not items:
        raise GoldSetError(f"{p}: no questions in the gold file")
    return items
