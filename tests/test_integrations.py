"""LangChain and LlamaIndex adapters: citations in metadata, filters and mode passed through."""

from __future__ import annotations

import asyncio
import importlib
import sys
from pathlib import Path

import pytest

from inspect_qa import Filters, Retriever


@pytest.fixture
def retriever(corpus: Path, tmp_path: Path, embedder) -> Retriever:
    return Retriever.build(corpus, tmp_path / "ix", embedder=embedder)


def test_langchain_retriever_in_a_chain(retriever: Retriever) -> None:
    from langchain_core.runnables import RunnableLambda

    from inspect_qa.integrations.langchain import InspectQARetriever

    lc = InspectQARetriever(retriever=retriever, k=2)
    docs = lc.invoke("adoption wait days")
    want = retriever.search("adoption wait days", k=2)
    assert [d.page_content for d in docs] == [p.text for p in want]
    md = docs[0].metadata
    assert (md["source"], md["start_index"], md["end_index"]) == (want[0].source, want[0].start,
                                                                  want[0].end)
    assert {"page", "section", "title", "date", "score"} <= set(md)
    text = retriever.index.documents[md["source"]].text
    assert " ".join(text[md["start_index"]:md["end_index"]].split()) == docs[0].page_content
    # batch and async
    assert [len(x) for x in lc.batch(["adoption", "supervision"])] == [2, 2]
    assert asyncio.run(lc.ainvoke("adoption wait days"))[0].metadata == md

    def cite(ds: list) -> str:
        return "\n".join(f"{d.metadata['source']}:{d.metadata['start_index']}-"
                         f"{d.metadata['end_index']} {d.page_content[:30]}" for d in ds)

    chain = lc | RunnableLambda(cite)
    out = chain.invoke("adoption wait days")
    assert out.splitlines()[0].startswith(f"{want[0].source}:{want[0].start}-{want[0].end} ")


def test_langchain_filters_and_mode_pass_through(retriever: Retriever) -> None:
    from inspect_qa.integrations.langchain import InspectQARetriever

    only = InspectQARetriever(retriever=retriever, k=5, mode="lexical",
                              filters=Filters(sources=("letter.txt",)))
    docs = only.invoke("caseloads supervision")
    assert docs and {d.metadata["source"] for d in docs} == {"letter.txt"}
    lexical = retriever.search("caseloads supervision", k=5, mode="lexical",
                               filters=Filters(sources=("letter.txt",)))
    assert [d.metadata["score"] for d in docs] == [p.score for p in lexical]


def test_llamaindex_retriever(retriever: Retriever) -> None:
    from llama_index.core.schema import QueryBundle

    from inspect_qa.integrations.llamaindex import InspectQARetriever

    li = InspectQARetriever(retriever, k=2, mode="hybrid")
    nodes = li.retrieve("adoption wait days")
    want = retriever.search("adoption wait days", k=2)
    assert [n.node.text for n in nodes] == [p.text for p in want]
    assert [n.score for n in nodes] == [p.score for p in want]
    n = nodes[0].node
    assert (n.start_char_idx, n.end_char_idx, n.metadata["source"]) == (want[0].start,
                                                                        want[0].end,
                                                                        want[0].source)
    again = asyncio.run(li.aretrieve(QueryBundle("adoption wait days")))
    assert [x.node.node_id for x in again] == [x.node.node_id for x in nodes]
    dated = InspectQARetriever(retriever, filters=Filters(date_from="2019"))
    assert {x.node.metadata["source"] for x in dated.retrieve("adoption")} == {"letter.txt"}


@pytest.mark.parametrize(("module", "framework", "extra"), [
    ("inspect_qa.integrations.langchain", "langchain_core.retrievers", "langchain"),
    ("inspect_qa.integrations.llamaindex", "llama_index.core.retrievers", "llamaindex"),
])
def test_a_missing_framework_names_the_extra(monkeypatch, module: str, framework: str,
                                             extra: str) -> None:
    from inspect_qa.errors import InspectQAError

    monkeypatch.setitem(sys.modules, framework, None)  # makes importing it fail
    monkeypatch.delitem(sys.modules, module, raising=False)
    with pytest.raises(InspectQAError, match=rf"pip install 'inspect-qa\[{extra}\]'"):
        importlib.import_module(module)


def test_the_core_never_imports_a_framework() -> None:
    import subprocess

    code = ("import sys, inspect_qa, inspect_qa.cli, inspect_qa.retriever, inspect_qa.api; "
            "print([m for m in sys.modules if m.startswith(('langchain_core', 'llama_index'))])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"
