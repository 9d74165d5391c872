"""Acronyms a corpus defines, and glossary phrases turned into the report's terms."""

from __future__ import annotations

from inspect_qa.lexical import LexicalTokenizer
from inspect_qa.vocabulary import Entry, Lexicon, corpus_acronyms, glossary


def test_acronyms_are_learned_from_the_documents_own_definitions() -> None:
    text = ("Referrals go to the multi-agency safeguarding hub (MASH). Newly qualified social "
            "workers (NQSWs) are supported. Children in need (CIN) plans are reviewed. The "
            "service (which is new) is busy. It met the LADO (not defined here).")
    found = corpus_acronyms([text])
    assert found["MASH"] == "multi agency safeguarding hub"
    assert found["NQSW"] == "newly qualified social workers"
    assert found["CIN"] == "children in need"
    assert "LADO" not in found and "which" not in found


def test_everyday_phrases_call_for_the_reports_terms() -> None:
    tok = LexicalTokenizer()
    lexicon = Lexicon.build(tok, {"MASH": "multi agency safeguarding hub"}, [
        Entry(("looked after children", "LAC"), ("children in care", "taken into care")),
        Entry(("caseload",), ("workload",))])
    assert lexicon.expand(tok("How many children were taken into care?")) == [
        "looked after children", "LAC"]
    assert lexicon.expand(tok("Who works in the MASH?")) == ["multi agency safeguarding hub"]
    assert lexicon.expand(tok("the multi-agency safeguarding hub")) == ["MASH"]
    assert lexicon.expand(tok("What was the workload?"), min_tokens=2) == []
    # A question in the report's own words calls for nothing (terms_too is off).
    assert lexicon.expand(tok("looked after children numbers")) == []


def test_the_bundled_glossary_says_where_it_comes_from() -> None:
    import json
    from importlib import resources

    raw = json.loads(resources.files("inspect_qa").joinpath("data/glossary.json").read_text())
    assert "not derived from" in raw["source"]
    entries = glossary()
    assert len(entries) >= 150
    assert all(e.terms and e.everyday for e in entries)
