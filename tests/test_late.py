"""Late interaction (word-piece MaxSim): the token store and its use in re-ranking."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from inspect_qa import Retriever
from inspect_qa.embedding import TokenVectors
from inspect_qa.index import build_index, optimize
from inspect_qa.retriever import RERANK_DEPTH
from inspect_qa.search import first_stage
from inspect_qa.search.analysis import Question
from inspect_qa.search.evidence import Evidence, gather, late_interaction
from inspect_qa.storage import load_index
from inspect_qa.stores import TokenStore


def _unit(*rows: list[float]) -> np.ndarray:
    a = np.array(rows, dtype=np.float32)
    return a / np.linalg.norm(a, axis=1, keepdims=True)


def _store() -> TokenStore:
    rows = [
        TokenVectors(np.array([1, 2]), _unit([1, 0, 0], [0, 1, 0]), ("a", "b")),
        TokenVectors(np.array([], dtype=np.int64), np.zeros((0, 3), np.float32), ()),
        TokenVectors(np.array([2, 3, 3]), _unit([0, 1, 0], [0, 0, 1], [1, 1, 0]), ("b", "c", "c")),
    ]
    return TokenStore.build(rows, 3)


def test_maxsim_by_hand() -> None:
    store = _store()
    q = _unit([1, 0, 0], [0, 0, 1])
    w = np.array([1.0, 3.0])
    got = store.maxsim(q, w, np.array([0, 1, 2]))
    # row 0: best sims 1 (piece a) and 0 -> (1*1 + 3*0) / 4; row 1 has no pieces -> 0;
    # row 2: best sims cos([1,0,0],[1,1,0]) = 0.7071 and 1 -> (0.7071 + 3) / 4.
    np.testing.assert_allclose(got, [0.25, 0.0, (2 ** -0.5 + 3) / 4], atol=1e-3)
    # any subset, any order
    np.testing.assert_allclose(store.maxsim(q, w, np.array([2, 0])), got[[2, 0]], atol=1e-6)
    assert store.maxsim(q[:0], w[:0], np.array([0])).tolist() == [0.0]


def test_idf_counts_rows_not_repeats_and_unseen_pieces_are_rarest() -> None:
    store = _store()
    idf = store.idf(np.array([1, 2, 3, 99]))
    # piece 2 is in two rows of three, 1 and 3 in one each (3 twice in the same row), 99 in none
    assert idf[0] == pytest.approx(idf[2])
    assert idf[1] < idf[0] < idf[3]
    assert idf[3] == pytest.approx(np.log((3 + 0.5) / 0.5 + 1))


def test_token_store_round_trip(tmp_path: Path) -> None:
    store = _store()
    store.save(tmp_path / "t")
    back = TokenStore.load(tmp_path / "t")
    assert len(back) == 3 and back.vectors.dtype == np.float16
    assert not back.vectors.flags["OWNDATA"]  # a view of the memory-mapped file, not a copy
    np.testing.assert_array_equal(back.offsets, [0, 2, 2, 5])
    np.testing.assert_allclose(back.row(2).vectors, store.row(2).vectors)
    with pytest.raises(ValueError, match="disagree"):
        TokenStore(store.ids, np.array([0, 2, 2, 4]), vectors=store.vectors)


def test_compressed_pieces_score_close_to_exact_and_keep_their_codes(tmp_path: Path) -> None:
    from inspect_qa.stores import TOKEN_TRAIN_MIN, TokenCodec

    rng = np.random.default_rng(1)
    # Clustered unit vectors, as contextual word pieces are: 64 topics, small spread.
    topics = rng.normal(size=(64, 32))
    x = topics[rng.integers(0, 64, TOKEN_TRAIN_MIN)] + 0.2 * rng.normal(size=(TOKEN_TRAIN_MIN, 32))
    x = (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)
    codec = TokenCodec.train(x, subvectors=8)
    assert TokenCodec.train(x[:TOKEN_TRAIN_MIN, :30]).codebooks.shape[0] == 30  # 30 of 48 divide 30
    rows = [TokenVectors(np.arange(i, i + 40), x[i * 40 : (i + 1) * 40], ()) for i in range(50)]
    exact, packed = TokenStore.build(rows, 32), TokenStore.build(rows, 32, codec)
    assert packed.compressed and not exact.compressed
    q = x[rng.integers(0, len(x), 5)]
    w = np.ones(5)
    every = np.arange(50)
    np.testing.assert_allclose(packed.maxsim(q, w, every), exact.maxsim(q, w, every), atol=0.03)
    np.testing.assert_array_equal(packed.idf(np.arange(60)), exact.idf(np.arange(60)))
    # saved and loaded with its codec; a subset keeps the very same codes
    packed.save(tmp_path / "t")
    codec.save(tmp_path / "codec")
    back = TokenStore.load(tmp_path / "t", TokenCodec.load(tmp_path / "codec"))
    np.testing.assert_allclose(back.row(7).vectors, packed.row(7).vectors, atol=1e-6)
    part = packed.take(np.array([7, 3]))
    assert part.codes is not None and packed.codes is not None
    np.testing.assert_array_equal(part.codes[1][:40], packed.codes[1][7 * 40 : 8 * 40])
    with pytest.raises(ValueError, match="no codec"):
        TokenStore.load(tmp_path / "t")


def test_index_holds_token_vectors_for_every_chunk_and_sentence(corpus: Path, tmp_path: Path,
                                                                embedder) -> None:
    build_index(corpus, tmp_path / "ix", embedder=embedder)
    ix = load_index(tmp_path / "ix")
    assert len(ix.chunk_tokens) == len(ix.chunks) and len(ix.sentence_tokens) == len(ix.sentences)
    # the hashing embedder's pieces are the words: the header and the text of each chunk
    first = ix.chunk_tokens.row(0)
    assert len(first) >= len(ix.chunks[0].text.split()) // 2
    assert ix.manifest["tokens"]["chunk_pieces"] == len(ix.chunk_tokens.ids)


def _evidence(r: Retriever, question: str) -> tuple[Evidence, Question]:
    """The evidence of every passage of a small index (its first stage takes them all)."""
    q = r.analyser.analyse(r.check_question(question), dense=True)
    first = first_stage.run(r.corpus, q, None, dense=True, lexical=True)
    assert first.exhaustive and len(first.rows) == len(r.index.chunks)
    return gather(r.corpus, q, first), q


def test_late_interaction_scores_only_the_re_ranked_rows(corpus: Path, tmp_path: Path,
                                                         embedder) -> None:
    r = Retriever.build(corpus, tmp_path / "ix", embedder=embedder)
    ev, question = _evidence(r, "How long do children wait for adoption?")
    ev = late_interaction(r.corpus, question, ev, np.array([0]))
    assert ev.late_chunk is not None and ev.late_sentence is not None
    assert np.isfinite(ev.late_chunk[0]) and np.isnan(ev.late_chunk[1:]).all()
    first, last = r.index.sentence_offsets[0], r.index.sentence_offsets[1]
    assert np.isfinite(ev.late_sentence[first:last]).all()
    assert np.isnan(ev.late_sentence[last:]).all()
    # stopwords and question words are not matched; the rest is
    assert question.pieces is not None
    assert set(question.pieces.pieces) == {"long", "children", "wait", "adoption"}


def test_the_sentence_holding_every_question_word_scores_one(corpus: Path, tmp_path: Path,
                                                             embedder) -> None:
    r = Retriever.build(corpus, tmp_path / "ix", embedder=embedder)
    ev, question = _evidence(r, "Do children wait on average 500 days for adoption?")
    ev = late_interaction(r.corpus, question, ev, np.arange(min(len(ev.rows), RERANK_DEPTH)))
    assert ev.late_sentence is not None
    best = int(np.nanargmax(ev.late_sentence))
    text = r.corpus.sentence_text(int(ev.sentences[best]))
    assert "children wait on average 500 days for adoption" in text
    assert ev.late_sentence[best] == pytest.approx(1.0, abs=1e-3)


def test_an_incremental_build_stores_what_a_full_build_does(corpus: Path, tmp_path: Path) -> None:
    from .conftest import NEWS
    from .test_index import CountingEmbedder

    emb = CountingEmbedder()
    build_index(corpus, tmp_path / "ix", embedder=emb)
    emb.embedded.clear()
    (corpus / "sub" / "news.md").write_text(NEWS + "\nFostering panels meet weekly.\n")
    build_index(corpus, tmp_path / "ix", embedder=emb)
    assert emb.embedded and all("Exampleton" not in t for t in emb.embedded)  # letter reused
    build_index(corpus, tmp_path / "fresh", embedder=emb)
    fresh = load_index(tmp_path / "fresh")
    # The change is a new segment and a deletion marker; merged, it is the full build.
    segmented = load_index(tmp_path / "ix")
    assert len(segmented.segments) == 2 and segmented.live is not None
    assert sorted(segmented.chunks.ids[segmented.live_rows]) == sorted(fresh.chunks.ids)
    optimize(tmp_path / "ix", embedder=emb)
    updated = load_index(tmp_path / "ix")
    assert len(updated.segments) == 1 and updated.live is None
    assert [c.id for c in updated.chunks] == [c.id for c in fresh.chunks]
    assert list(updated.sentences) == list(fresh.sentences)
    for a, b in ((updated.chunk_tokens, fresh.chunk_tokens),
                 (updated.sentence_tokens, fresh.sentence_tokens)):
        np.testing.assert_array_equal(a.offsets, b.offsets)
        np.testing.assert_array_equal(a.ids, b.ids)
        np.testing.assert_array_equal(a.vectors, b.vectors)


def test_question_words_are_dropped_whole_never_a_piece_of_a_name(corpus: Path, tmp_path: Path,
                                                                  embedder) -> None:
    from inspect_qa.embedding import TokenVectors

    r = Retriever.build(corpus, tmp_path / "ix", embedder=embedder)
    pieces = ("what", "did", "of", "##sted", "find", "in", "is", "##lington")
    tv = TokenVectors(np.arange(len(pieces)), np.eye(len(pieces), dtype=np.float32), pieces)
    kept, weights = r.analyser.meaningful_pieces(tv)
    assert kept.pieces == ("of", "##sted", "find", "is", "##lington")
    assert len(weights) == len(kept.pieces)


def test_a_sentence_stores_only_its_own_pieces_its_header_is_context(corpus: Path,
                                                                     tmp_path: Path,
                                                                     embedder) -> None:
    import re

    build_index(corpus, tmp_path / "ix", embedder=embedder)
    ix = load_index(tmp_path / "ix")
    for j, s in enumerate(ix.sentences):
        text = ix.documents[ix.chunks[s.chunk].doc_id].text[s.start : s.end]
        words = re.findall(r"\w+", text.lower())
        assert len(ix.sentence_tokens.row(j)) == len(words), text
    # a chunk's pieces do include its header (title, kind, date, section)
    first = ix.chunks[0]
    assert len(ix.chunk_tokens.row(0)) > len(re.findall(r"\w+", first.text))


def test_hashing_embedder_context_chars_drop_the_context_words(embedder) -> None:
    _, toks = embedder.embed_tokens(["Report title\nCases rose."], context_chars=[13])
    assert toks[0].pieces == ("cases", "rose")
