import re

from hypothesis import given, settings
from hypothesis import strategies as st

from inspect_qa.chunking import ChunkSettings, chunk_id, make_chunks, normalise, split_sentences
from inspect_qa.documents import Document, extract_metadata, read_corpus
from inspect_qa.embedding import HashingEmbedder
from inspect_qa.layout import classify_lines

from .conftest import LETTER, SEEDS

COUNT = HashingEmbedder().count_tokens


def _doc(text: str, doc_id: str = "d.txt") -> Document:
    return Document(doc_id, text, extract_metadata(text))


def _check_offsets(doc: Document, chunks) -> None:
    prev_end = 0
    for c in chunks:
        assert 0 <= c.start < c.end <= len(doc.text)
        assert normalise(doc.text[c.start : c.end]) == normalise(c.text) == c.text
        assert c.start >= prev_end, "chunks overlap or go backwards"
        prev_end = c.end
        for a, b in c.sentences:
            assert c.start <= a < b <= c.end
            assert doc.text[a:b].strip() == doc.text[a:b]


def test_every_chunk_of_every_seed_has_exact_offsets() -> None:
    for doc in read_corpus(SEEDS):
        chunks = make_chunks(doc, COUNT, ChunkSettings(chunk_tokens=100))
        assert chunks, doc.id
        _check_offsets(doc, chunks)
        assert all(COUNT(c.text) <= 100 for c in chunks)


def test_chunk_ids_are_stable_and_content_derived() -> None:
    doc = _doc(LETTER)
    a = make_chunks(doc, COUNT)
    b = make_chunks(doc, COUNT)
    assert [c.id for c in a] == [c.id for c in b]
    assert a[0].id == chunk_id(doc.id, a[0].start, a[0].end, a[0].text)
    assert len({c.id for c in a}) == len(a)


def test_chunks_cut_at_headings_and_record_sections() -> None:
    chunks = make_chunks(_doc(LETTER), COUNT)
    overall = [c for c in chunks if c.section == "Overall"]
    assert overall and overall[0].text.startswith("Overall Caseloads for social workers")
    assert all("Overall" not in c.text for c in chunks if c.section != "Overall")


FURNITURE = [
    "Ofsted is proud to use recycled paper", "enquiries@ofsted.gov.uk", "T 0300 123 1231",
    "www.ofsted.gov.uk", "Contact Us", "Introduction and Context\t4", "Mackman",
    "10 Holliday Street",  # the sender's letterhead stands alone between contact lines
]
ADDRESS_LINES = ["DY1 1JQ", "DY1 1HZ", "Westox House", "CO4 3ZL"]


def test_page_furniture_never_becomes_a_chunk() -> None:
    for doc in read_corpus(SEEDS):
        addresses = [doc.text[ln.start : ln.end] for ln in classify_lines(doc.text)
                     if ln.kind == "address"]
        for c in make_chunks(doc, COUNT):
            raw = doc.text[c.start : c.end]
            for f in FURNITURE:
                assert f not in raw, (doc.id, f)
            # An address may open a letter's first chunk, never stand alone.
            without = raw
            for line in addresses:
                without = without.replace(line, " ")
            assert len(without.split()) >= 20, (doc.id, c.text)
            if any(a in raw for a in ADDRESS_LINES):
                assert "Dear" in raw or "This letter" in raw, c.text


def test_letterhead_contact_and_address_lines() -> None:
    kinds = {ln.text: ln.kind for ln in classify_lines(LETTER)}
    for line in ("enquiries@ofsted.gov.uk", "T 0300 123 1231"):
        assert kinds[line] == "furniture", line
    for line in ("The Axis Building", "B1 1TF", "Jane Doe", "Town Hall", "EX1 2AB"):
        assert kinds[line] == "address", line
    assert kinds["12 March 2019"] != "heading"  # a date line is not a heading
    assert kinds["Overall"] == "heading"
    first = make_chunks(_doc(LETTER), COUNT)[0]
    assert first.text.startswith("12 March 2019 Jane Doe Director of Children's Services")
    assert "Axis" not in first.text


def test_a_sentence_holding_a_web_or_email_address_is_text_not_furniture() -> None:
    text = ("Headline findings\n\nThe improvement plan was agreed in April 2025 and is published "
            "at www.example.gov.uk/plan for families to read.\n\nFamilies can complain at "
            "complaints@example.gov.uk, and 212 complaints were received in 2024.\n\n"
            "- The [early help](https://example.org/help) offer reached 1,240 families.\n\n"
            "Contact Us | www.example.gov.uk\n\nEmail: enquiries@example.gov.uk\n")
    kinds = {text[ln.start : ln.end][:12]: ln.kind for ln in classify_lines(text)}
    assert kinds["The improvem"] == kinds["Families can"] == "text"
    assert kinds["- The [early"] == "bullet"
    assert kinds["Contact Us |"] == kinds["Email: enqui"] == "furniture"  # short: a footer
    chunked = " ".join(c.text for c in make_chunks(_doc(text), COUNT))
    assert "212 complaints were received" in chunked and "1,240 families" in chunked
    assert "Contact Us" not in chunked and "enquiries@" not in chunked


def test_a_title_block_of_label_and_value_lines_is_indexed_a_fact_a_sentence() -> None:
    # as a PDF's title page comes out: each short line followed by a blank one
    text = ("Harrowfield Borough Council\n\nInspection of local authority children's services\n\n"
            "Inspection dates: 3 June to 14 June 2024\n\nLead inspector: Rachel Tideswell\n\n"
            "Report published: 26 July 2024\n\nHeadline findings\n\nChildren in Harrowfield "
            "do not receive a consistently safe service when they are first referred.\n")
    kinds = {text[ln.start : ln.end][:14]: ln.kind for ln in classify_lines(text)}
    assert kinds["Lead inspector"] == kinds["Inspection dat"] == "text"  # facts, not headings
    assert kinds["Headline findi"] == "heading"
    sents = [normalise(text[a:b]) for c in make_chunks(_doc(text), COUNT) for a, b in c.sentences]
    for fact in ("Inspection dates: 3 June to 14 June 2024", "Lead inspector: Rachel Tideswell",
                 "Report published: 26 July 2024"):
        assert fact in sents, sents
    # a caption is not such a line: it still reads on into what follows it
    assert classify_lines("Figure 1: Dudley CVS Framework\nSource: Dudley MBC\n")[0].kind == "text"


def test_a_paragraph_number_stays_with_its_paragraph() -> None:
    text = ("Headline findings\n\n1. Children are not always safe when first referred. Too many "
            "contacts wait more than three days for a decision.\n\n2. Senior leaders did not "
            "know the quality of practice.\n\n3.1 Audits were weak.\n")
    lines = classify_lines(text)
    sents = [normalise(text[a:b]) for a, b in split_sentences(text, lines)]
    assert sents == ["Headline findings", "1. Children are not always safe when first referred.",
                     "Too many contacts wait more than three days for a decision.",
                     "2. Senior leaders did not know the quality of practice.",
                     "3.1 Audits were weak."]


def test_sentences_split_on_sentence_ends_not_line_breaks() -> None:
    text = ("Inspectors saw cases where \n\nchildren were safe. Mr Smith agreed. The council "
            "has\nimproved.\n\n- First point here.\n- Second point here.")
    doc = _doc(text)
    chunks = make_chunks(doc, COUNT)
    sents = [normalise(text[a:b]) for c in chunks for a, b in c.sentences]
    assert sents == [
        "Inspectors saw cases where children were safe.", "Mr Smith agreed.",
        "The council has improved.", "- First point here.", "- Second point here.",
    ]


def test_a_sentence_longer_than_the_window_is_cut() -> None:
    text = "Word " * 500 + "end."
    chunks = make_chunks(_doc(text), COUNT, ChunkSettings(chunk_tokens=60))
    assert len(chunks) > 5
    assert all(COUNT(c.text) <= 60 for c in chunks)
    _check_offsets(_doc(text), chunks)


PHRASES = ["The council improved. ", "Caseloads fell to 18. ", "the council improved ",
           "Overall\n\n", "\n", "  ", "Children were seen.\n\n", "A B C. ", "x, y; z "]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(PHRASES), min_size=1, max_size=120),
       st.integers(min_value=12, max_value=80))
def test_offsets_hold_on_generated_text_with_repeats(parts: list[str], size: int) -> None:
    text = "".join(parts)
    doc = _doc(text)
    chunks = make_chunks(doc, COUNT, ChunkSettings(chunk_tokens=size, min_words=1))
    _check_offsets(doc, chunks)
    # Nothing with words is lost except headings standing alone.
    covered = " ".join(doc.text[c.start : c.end] for c in chunks)
    words = re.findall(r"\w+", covered)
    assert len(words) >= len(re.findall(r"\w+", text)) - 20 * text.count("Overall")


def test_salutation_and_subject_line_are_units_of_their_own() -> None:
    doc = _doc(LETTER)
    sents = [normalise(doc.text[a:b]) for c in make_chunks(doc, COUNT) for a, b in c.sentences]
    assert "Dear Jane" in sents
    assert "Monitoring visit to Exampleton Metropolitan Borough Council children's services" in sents
    assert sents[sents.index("Dear Jane") + 2].startswith("This letter summarises")


def test_a_short_heading_with_its_figure_is_a_chunk_and_a_lone_date_is_not() -> None:
    text = "Swindon\n\nThe badger unit reviewed 30 cases.\n\nAgency staff\n\n22%\n"
    chunks = make_chunks(Document("w.html", text, {}), COUNT)
    assert [c.text for c in chunks] == ["Swindon The badger unit reviewed 30 cases.",
                                        "Agency staff 22%"]
    assert chunks[1].section == "Agency staff"
    dated = "12 March 2019\n\nDear Jane\n\nThe badger unit reviewed 30 cases this year.\n"
    assert "12 March 2019" not in [c.text for c in make_chunks(Document("d", dated, {}), COUNT)]
