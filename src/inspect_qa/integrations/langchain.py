"""inspect-qa as a LangChain retriever: ``pip install 'inspect-qa[langchain]'``.

    from inspect_qa import Retriever
    from inspect_qa.integrations.langchain import InspectQARetriever

    retriever = InspectQARetriever(retriever=Retriever.load("index"), k=3)
    docs = retriever.invoke("court team caseloads")
    docs[0].page_content, docs[0].metadata["source"], docs[0].metadata["start_index"]

Each ``Document`` is a passage, verbatim; its metadata cite it (``source``, ``start_index``,
``end_index``, ``page``, ``section``, ``title``, ``date``, ``score``, ``chunk_id``). ``invoke``,
``batch``, ``ainvoke`` and composition in runnable chains come from ``BaseRetriever``.
"""

from __future__ import annotations

from typing import Any

from ._common import citation_metadata, require

require("langchain_core.retrievers", "langchain")

from langchain_core.callbacks import CallbackManagerForRetrieverRun  # noqa: E402
from langchain_core.documents import Document  # noqa: E402
from langchain_core.retrievers import BaseRetriever  # noqa: E402
from pydantic import ConfigDict  # noqa: E402

from ..filters import Filters  # noqa: E402
from ..retriever import Retriever  # noqa: E402

__all__ = ["InspectQARetriever"]


class InspectQARetriever(BaseRetriever):
    """The ``k`` best passages of an inspect-qa index for a query, as LangChain documents.

    Attributes:
        retriever: an open :class:`inspect_qa.Retriever`.
        k: passages per query (1 to 50).
        mode: ``hybrid``, ``dense`` or ``lexical``.
        filters: an :class:`inspect_qa.Filters` (documents, date range), or ``None``.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    retriever: Retriever
    k: int = 5
    mode: str = "hybrid"
    filters: Filters | None = None

    def _get_relevant_documents(self, query: str, *,
                                run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        passages = self.retriever.search(query, k=self.k, mode=self.mode, filters=self.filters)
        return [Document(page_content=p.text, metadata=citation_metadata(p), id=p.chunk_id)
                for p in passages]

    def as_dict(self) -> dict[str, Any]:
        """The settings (not the index): for logging a chain's configuration."""
        return {"k": self.k, "mode": self.mode,
                "filters": self.filters.to_dict() if self.filters else None}
