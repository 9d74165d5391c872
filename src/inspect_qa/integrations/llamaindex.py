"""inspect-qa as a LlamaIndex retriever: ``pip install 'inspect-qa[llamaindex]'``.

    from inspect_qa import Retriever
    from inspect_qa.integrations.llamaindex import InspectQARetriever

    retriever = InspectQARetriever(Retriever.load("index"), k=3)
    nodes = retriever.retrieve("court team caseloads")
    nodes[0].node.text, nodes[0].score, nodes[0].node.start_char_idx

Each ``NodeWithScore`` holds a ``TextNode`` whose text is the passage, verbatim, with
``start_char_idx``/``end_char_idx`` its character offsets in the source document and
``metadata`` its citation (as in the LangChain adapter). ``retrieve`` and ``aretrieve`` come
from LlamaIndex's ``BaseRetriever``.
"""

from __future__ import annotations

from ._common import citation_metadata, require

require("llama_index.core.retrievers", "llamaindex")

from llama_index.core.retrievers import BaseRetriever  # noqa: E402
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode  # noqa: E402

from ..filters import Filters  # noqa: E402
from ..retriever import Retriever  # noqa: E402

__all__ = ["InspectQARetriever"]


class InspectQARetriever(BaseRetriever):
    """The ``k`` best passages of an inspect-qa index for a query, as LlamaIndex nodes.

    Args:
        retriever: an open :class:`inspect_qa.Retriever`.
        k: passages per query (1 to 50).
        mode: ``hybrid``, ``dense`` or ``lexical``.
        filters: an :class:`inspect_qa.Filters` (documents, date range), or ``None``.
    """

    def __init__(self, retriever: Retriever, k: int = 5, mode: str = "hybrid",
                 filters: Filters | None = None) -> None:
        super().__init__()
        self.retriever, self.k, self.mode, self.filters = retriever, k, mode, filters

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        passages = self.retriever.search(query_bundle.query_str, k=self.k, mode=self.mode,
                                         filters=self.filters)
        return [NodeWithScore(
            node=TextNode(id_=p.chunk_id, text=p.text, start_char_idx=p.start,
                          end_char_idx=p.end, metadata=citation_metadata(p)),
            score=p.score) for p in passages]
