"""Questions through ONNX Runtime: the same vectors as torch, or torch itself."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from inspect_qa import embedding
from inspect_qa.embedding import OnnxForward, SentenceTransformerEmbedder

ROOT = Path(__file__).resolve().parents[1]
GOLD = [json.loads(line)["question"]
        for line in (ROOT / "eval" / "gold.jsonl").read_text(encoding="utf-8").splitlines()
        if line.strip()]
QUESTIONS = [*GOLD[:25], "hello", "What is the capital of France?"]


@pytest.fixture(scope="module")
def torch_only(monkeypatch_module):
    monkeypatch_module.setenv(embedding.ONNX_ENV, "0")
    e = SentenceTransformerEmbedder()
    e.embed_tokens(["first"])
    monkeypatch_module.delenv(embedding.ONNX_ENV)
    assert e._onnx_tried and e._onnx is None
    return e


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as mp:
        yield mp


def test_questions_through_onnx_match_torch(real_embedder, torch_only):
    real_embedder.embed_tokens(["warm up"])
    assert isinstance(real_embedder._onnx, OnnxForward), "ONNX Runtime was not used"
    for q in QUESTIONS:
        pa, ta = torch_only.embed_tokens([q])
        pb, tb = real_embedder.embed_tokens([q])
        assert float(pa[0] @ pb[0]) >= 0.9999
        assert ta[0].pieces == tb[0].pieces and np.array_equal(ta[0].ids, tb[0].ids)
        assert np.sum(ta[0].vectors * tb[0].vectors, axis=1).min() >= 0.9999
    # several texts (a build's batches) stay on torch, and agree with one at a time
    pooled, _ = real_embedder.embed_tokens(QUESTIONS[:3])
    assert np.allclose(pooled, torch_only.embed_tokens(QUESTIONS[:3])[0], atol=1e-6)


def test_an_unfaithful_copy_is_refused(monkeypatch, tmp_path, torch_only):
    monkeypatch.setenv(embedding.CACHE_ENV, str(tmp_path))
    real_call = OnnxForward.__call__

    def skewed(self, features):
        out = real_call(self, features)
        out["token_embeddings"] = out["token_embeddings"].flip(-1)
        return out

    monkeypatch.setattr(OnnxForward, "__call__", skewed)
    e = SentenceTransformerEmbedder()
    pooled, tokens = e.embed_tokens([QUESTIONS[0]])
    assert e._onnx_tried and e._onnx is None
    want, want_tokens = torch_only.embed_tokens([QUESTIONS[0]])
    assert np.allclose(pooled, want, atol=1e-6)
    assert np.allclose(tokens[0].vectors, want_tokens[0].vectors, atol=1e-6)


def test_a_damaged_cached_copy_is_made_again(monkeypatch, tmp_path, real_embedder):
    monkeypatch.setenv(embedding.CACHE_ENV, str(tmp_path))
    e = SentenceTransformerEmbedder()
    e.embed_tokens(["make the copy"])
    (copy,) = (tmp_path / "onnx").glob("*.onnx")
    copy.write_bytes(b"not a model")
    again = SentenceTransformerEmbedder()
    pooled, _ = again.embed_tokens([QUESTIONS[1]])
    assert isinstance(again._onnx, OnnxForward)
    assert copy.stat().st_size > 1_000_000
    assert float(pooled[0] @ real_embedder.embed_tokens([QUESTIONS[1]])[0][0]) >= 0.9999
