"""Bridging a reader's words and a report's: the acronyms a corpus defines itself, and a glossary
of children's social care terms against everyday words.

A question in plain words ("children taken into care") rarely shares a word with the report
("looked after children"). :func:`expand` finds the everyday phrases and acronyms a question
uses and returns the report's terms for them, which the search adds to the question's words
(see :mod:`inspect_qa.retriever`). Nothing here is keyed to any question: the acronyms come from
the documents ("multi-agency safeguarding hub (MASH)"), the glossary
(``data/glossary.json``) was written as a general glossary of English children's social care
(its ``source`` field says how).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

Tokenize = Callable[[str], list[str]]

_ACRONYM = re.compile(r"\(([A-Z][A-Za-z]{1,7}?)(s)?\)")
_WORD = re.compile(r"[A-Za-z][A-Za-z']*")


@dataclass(frozen=True)
class Entry:
    """One concept: the report's terms (a term and its abbreviations) and everyday phrasings."""

    terms: tuple[str, ...]
    everyday: tuple[str, ...]


def corpus_acronyms(texts: Iterable[str]) -> dict[str, str]:
    """Acronyms the documents define, ``{"MASH": "multi-agency safeguarding hub"}``: a
    parenthesised capitalised word whose letters are the initials of the words just before it
    (hyphenated parts count: "multi-agency" gives M, A)."""
    found: dict[str, str] = {}
    for text in texts:
        for m in _ACRONYM.finditer(text):
            acr = m.group(1)
            letters = [c for c in acr if c.isupper()]
            if len(letters) < 2 or len(letters) != sum(c.isupper() for c in acr):
                continue
            before = text[max(0, m.start() - 160) : m.start()]
            words = _WORD.findall(before.replace("-", " "))
            n = len(letters)
            # Allow one small word inside ("children in need" -> CIN has "in").
            for take in (n, n + 1, n + 2):
                if take > len(words):
                    break
                tail = words[-take:]
                initials = [w[0].upper() for w in tail]
                if initials == letters or [w[0].upper() for w in tail if len(w) > 3 or w[0].isupper()] == letters:
                    start = len(before) - len(" ".join(tail))
                    phrase = " ".join(before[max(start, 0):].split())
                    if phrase and acr not in found:
                        found[acr] = " ".join(tail).lower()
                    break
    return found


@lru_cache(maxsize=1)
def glossary() -> tuple[Entry, ...]:
    """The bundled glossary of children's social care terms."""
    raw = json.loads(resources.files("inspect_qa").joinpath("data/glossary.json")
                     .read_text(encoding="utf-8"))
    return tuple(Entry((e["term"], *e.get("abbreviations", ())), tuple(e.get("everyday", ())))
                 for e in raw["entries"])


@dataclass(frozen=True)
class Lexicon:
    """Phrases (as token sequences) and the report terms each one calls for."""

    phrases: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...]

    def __post_init__(self) -> None:
        by_first: dict[str, list[tuple[tuple[str, ...], tuple[str, ...]]]] = {}
        for toks, wanted in self.phrases:
            by_first.setdefault(toks[0], []).append((toks, wanted))
        object.__setattr__(self, "_by_first", by_first)

    @classmethod
    def build(cls, tokenize: Tokenize, acronyms: dict[str, str],
              entries: Iterable[Entry] = (), *, terms_too: bool = False) -> Lexicon:
        """``terms_too``: a report's own term also calls for its abbreviations and synonyms
        (off: a question in the report's words needs no help, and extra words cost it)."""
        out: dict[tuple[str, ...], list[str]] = {}

        def add(phrase: str, terms: Iterable[str]) -> None:
            toks = tuple(tokenize(phrase))
            if not toks:
                return
            wanted = [t for t in terms if tuple(tokenize(t)) != toks]
            if wanted:
                out.setdefault(toks, [])
                out[toks] += [t for t in wanted if t not in out[toks]]

        for entry in entries:
            for phrase in entry.everyday:
                add(phrase, entry.terms)
            if terms_too:
                for term in entry.terms:
                    add(term, entry.terms)
        for acr, long in acronyms.items():
            add(acr, [long])
            add(long, [acr])
        return cls(tuple((k, tuple(v)) for k, v in sorted(out.items(), key=lambda kv: -len(kv[0]))))

    def expand(self, question_tokens: list[str], min_tokens: int = 1) -> list[str]:
        """The report terms for the phrases ``question_tokens`` hold (a phrase matches where its
        tokens appear in order, together), longest phrases first, each term once."""
        terms: list[str] = []
        q = tuple(question_tokens)
        by_first: dict[str, list[tuple[tuple[str, ...], tuple[str, ...]]]] = (
            self._by_first)  # type: ignore[attr-defined]
        matched: list[tuple[int, tuple[str, ...]]] = []
        for i, tok in enumerate(q):
            for toks, wanted in by_first.get(tok, ()):
                if len(toks) >= min_tokens and q[i : i + len(toks)] == toks:
                    matched.append((len(toks), wanted))
        for _, wanted in sorted(matched, key=lambda m: -m[0]):
            terms += [t for t in wanted if t not in terms]
        return terms
