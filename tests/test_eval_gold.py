"""Gold files: folding, locating quotes, validation errors that name the file and line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from inspect_qa.documents import read_corpus
from inspect_qa.errors import GoldSetError
from inspect_qa.eval.gold import contains_quote, fold, load_gold, locate

ROOT = Path(__file__).resolve().parents[1]
DOCS = {"a.txt": "Leaders’ work — on 2 and 3\n  May 2018 — was “good”.", "b.txt": "Nothing here."}


def _write(tmp_path: Path, rows: list[object]) -> Path:
    p = tmp_path / "gold.jsonl"
    p.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n",
                 encoding="utf-8")
    return p


def _q(i: int, quote: str = "on 2 and 3 May 2018", source: str = "a.txt") -> dict[str, object]:
    return {"id": f"q{i}", "question": "When?", "answer": "May 2018",
            "evidence": [{"source": source, "quote": quote}]}


def test_fold_is_case_space_quote_and_dash_insensitive() -> None:
    assert fold("  Leaders’  work —\n on “X” ") == "leaders' work - on \"x\""
    assert contains_quote(DOCS["a.txt"], "leaders' work - ON 2 and 3 may 2018")
    assert not contains_quote(DOCS["a.txt"], "3 May 2019")
    assert not contains_quote("anything", "   ")


def test_locate_gives_offsets_in_the_original_text() -> None:
    text = DOCS["a.txt"]
    (span,) = locate(text, "3 may 2018")
    assert text[span[0] : span[1]] == "3\n  May 2018"
    assert locate("ab ab", "AB") == ((0, 2), (3, 5))


def test_load_valid_file(tmp_path: Path) -> None:
    unanswerable = {"id": "q9", "question": "Who?", "answer": None, "evidence": [],
                    "tags": ["unanswerable"]}
    items = load_gold(_write(tmp_path, [_q(1), "", unanswerable]), DOCS)
    assert [i.id for i in items] == ["q1", "q9"]
    assert items[0].tags == () and items[0].answerable and items[0].line == 1
    assert not items[1].answerable and items[1].line == 3
    assert items[0].evidence[0].spans
    assert items[0].is_hit("a.txt", "on 2 and 3 May 2018 — was") == 0
    assert items[0].is_hit("b.txt", "on 2 and 3 May 2018") is None


@pytest.mark.parametrize(("row", "message"), [
    (_q(1, quote="on 4 May 2018"), "quote 'on 4 May 2018' is not in a.txt"),
    (_q(1, source="c.txt"), "source 'c.txt', which is not in the corpus"),
    ("{not json", "not valid JSON"),
    ({**_q(1), "answer": None}, "unanswerable question (answer null) has no evidence"),
    ({**_q(1), "evidence": []}, "needs at least one evidence quote"),
    ({**_q(1), "tags": "number"}, "'tags' must be a list"),
    ({**_q(1), "evidance": []}, "unknown field(s) ['evidance']"),
    ({**_q(1), "question": " "}, "'question' must be non-empty text"),
    ({**_q(1), "evidence": [{"source": "a.txt"}]}, "evidence 1 must be"),
])
def test_bad_line_is_named(tmp_path: Path, row: object, message: str) -> None:
    path = _write(tmp_path, [_q(0), row])
    with pytest.raises(GoldSetError) as err:
        load_gold(path, DOCS)
    assert str(err.value).startswith(f"{path}:2: ")
    assert message in str(err.value)


def test_repeated_id_and_count_of_further_errors(tmp_path: Path) -> None:
    path = _write(tmp_path, [_q(1), _q(1), "[]", _q(3, quote="absent")])
    with pytest.raises(GoldSetError, match=r":2: id 'q1' repeats line 1 \(and 2 more"):
        load_gold(path, DOCS)


def test_missing_or_empty_file(tmp_path: Path) -> None:
    with pytest.raises(GoldSetError, match="cannot read gold file"):
        load_gold(tmp_path / "nope.jsonl")
    with pytest.raises(GoldSetError, match="no questions"):
        load_gold(_write(tmp_path, [""]))


def test_the_shipped_gold_set_matches_the_seed_corpus() -> None:
    docs = {d.id: d.text for d in read_corpus(ROOT / "seeds")}
    items = load_gold(ROOT / "eval" / "gold.jsonl", docs)
    assert len(items) >= 150
    assert sum(not i.answerable for i in items) >= 20
    assert all(e.spans for i in items for e in i.evidence)
