"""Integration tests on the seed corpus with the real bundled model (loaded once)."""

import subprocess
import sys

import pytest

from inspect_qa.chunking import normalise

pytestmark = pytest.mark.slow

QUESTIONS = [
    ("Who was appointed commissioner for children's services in Dudley?",
     "004_c317150f610727ac.txt"),
    ("How many families can an early help worker hold under the local authority guidance?",
     "000_f2ce1d9da8a51203.txt"),
    ("Which inspectors carried out the first monitoring visit in October 2016?",
     "001_e455c22296b3b456.txt"),
    ("How effective were adoption services and matching children to adopters?",
     "002_87759ed1007758fa.txt"),
    ("Is the adolescent response team addressing behavioural issues effectively?",
     "003_24d6193986422878.txt"),
]


@pytest.mark.parametrize("mode", ["dense", "lexical", "hybrid"])
def test_right_document_comes_first(seed_retriever, mode: str) -> None:
    for question, source in QUESTIONS:
        ps = seed_retriever.search(question, k=5, mode=mode)
        assert ps[0].source == source, (mode, question, [p.source for p in ps])


def test_no_indexed_text_is_truncated(seed_retriever, real_embedder) -> None:
    from inspect_qa.index import context_text

    ix = seed_retriever.index
    window = real_embedder.max_tokens
    assert window == 256
    truncated = 0
    for c in ix.chunks:
        doc = ix.documents[c.doc_id]
        full = context_text(c, doc, real_embedder.count_tokens, window)
        truncated += real_embedder.count_tokens(full) > window
        for a, b in c.sentences:
            truncated += real_embedder.count_tokens(normalise(doc.text[a:b])) > window
    assert truncated == 0


def test_every_seed_chunk_offset_is_exact(seed_retriever) -> None:
    ix = seed_retriever.index
    assert len(ix.chunks) > 50
    for c in ix.chunks:
        assert normalise(ix.documents[c.doc_id].text[c.start : c.end]) == c.text


def test_python_dash_m_works_like_the_cli(seed_retriever) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "inspect_qa", "info", str(seed_retriever.index.path)],
        capture_output=True, text=True, check=True,
    ).stdout
    assert "5 documents" in out and "all-MiniLM-L6-v2" in out


def test_word_piece_vectors_come_from_the_same_pass_as_the_embedding(real_embedder) -> None:
    import numpy as np

    texts = ["Social workers in the court team hold between eight and 12 cases.", "MASH"]
    pooled, tokens = real_embedder.embed_tokens(texts)
    np.testing.assert_allclose(pooled, real_embedder.embed(texts), atol=1e-5)
    assert tokens[0].pieces[:3] == ("social", "workers", "in")
    assert "." not in tokens[0].pieces and "[CLS]" not in tokens[0].pieces
    assert tokens[0].vectors.shape == (len(tokens[0].pieces), pooled.shape[1])
    np.testing.assert_allclose(np.linalg.norm(tokens[0].vectors, axis=1), 1.0, rtol=1e-5)


def test_context_characters_shape_the_vectors_but_keep_no_pieces(real_embedder) -> None:
    import numpy as np

    header = "Monitoring visit to Dudley — monitoring letter — 29 May 2018\n"
    text = header + "Caseloads are manageable."
    pooled, with_context = real_embedder.embed_tokens([text], context_chars=[len(header)])
    _, alone = real_embedder.embed_tokens(["Caseloads are manageable."])
    assert with_context[0].pieces == alone[0].pieces
    assert "".join(with_context[0].pieces).replace("#", "") == "caseloadsaremanageable"
    np.testing.assert_allclose(pooled, real_embedder.embed([text]), atol=1e-5)
    # the header changed the pieces' vectors (they were read in its context)
    assert not np.allclose(with_context[0].vectors, alone[0].vectors, atol=1e-3)
