"""Shared fixtures: a fake embedder and tiny corpora for fast tests; the real model once."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from inspect_qa.embedding import HashingEmbedder

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"

os.environ.setdefault("HF_HUB_OFFLINE", "1")
# The model's ONNX copy (embedding.OnnxForward) is made once per test run, in a folder of its
# own rather than the user's cache.
if "INSPECT_QA_CACHE" not in os.environ:
    os.environ["INSPECT_QA_CACHE"] = tempfile.mkdtemp(prefix="inspect_qa_test_cache_")
    atexit.register(shutil.rmtree, os.environ["INSPECT_QA_CACHE"], True)

LETTER = """The Axis Building
10 Holliday Street
Birmingham
B1 1TF

T 0300 123 1231
enquiries@ofsted.gov.uk

12 March 2019

Jane Doe
Director of Children's Services
Exampleton Metropolitan Borough Council
Town Hall
EX1 2AB

Dear Jane

Monitoring visit to Exampleton Metropolitan Borough Council children's services

This letter summarises the findings of the monitoring visit on 5 and 6 March 2019. This was the \
third monitoring visit since the local authority was judged inadequate in May 2017. The visit was \
carried out by Ann Example and Bob Sample, Her Majesty's Inspectors.

Overall

Caseloads for social workers in the assessment team average 18 children. Supervision is regular \
and recorded. Care leavers are supported by personal advisers who know them well.

Yours sincerely

Ann Example
Her Majesty's Inspector
"""

NEWS = """Riverton improves fostering

Riverton has improved its fostering service, according to inspectors. The fostering panel now \
meets every month and approves carers within six months.

Adoption timeliness remains a concern: children wait on average 500 days for adoption.
"""


@pytest.fixture
def embedder() -> HashingEmbedder:
    return HashingEmbedder()


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    d = tmp_path / "corpus"
    (d / "sub").mkdir(parents=True)
    (d / "letter.txt").write_text(LETTER, encoding="utf-8")
    (d / "sub" / "news.md").write_text(NEWS, encoding="utf-8")
    return d


@pytest.fixture
def seeds_copy(tmp_path: Path) -> Path:
    d = tmp_path / "seeds"
    shutil.copytree(SEEDS, d)
    return d


@pytest.fixture(scope="session")
def real_embedder():
    from inspect_qa.embedding import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder()


@pytest.fixture(scope="session")
def seed_retriever(real_embedder, tmp_path_factory):
    from inspect_qa import Retriever

    index_dir = tmp_path_factory.mktemp("seed-index")
    return Retriever.build(SEEDS, index_dir, embedder=real_embedder)
