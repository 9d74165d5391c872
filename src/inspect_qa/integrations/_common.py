"""What both framework adapters share: the missing-extra error and the citation metadata."""

from __future__ import annotations

from typing import Any

from ..errors import InspectQAError


class MissingExtra(InspectQAError, ImportError):
    """An optional integration's framework is not installed."""


def require(module: str, extra: str) -> None:
    """Import ``module`` or raise :class:`MissingExtra` naming the extra to install."""
    import importlib

    try:
        importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtra(
            f"the {extra} integration needs {module.split('.')[0]}: "
            f"pip install 'inspect-qa[{extra}]'") from exc


def citation_metadata(p: Any) -> dict[str, Any]:
    """A passage's citation under the keys LangChain's loaders and splitters use (``source``,
    ``start_index``, ``page``) plus ``end_index``, ``section``, ``title``, ``date``, ``score``
    and ``chunk_id``."""
    return {"source": p.source, "start_index": p.start, "end_index": p.end, "page": p.page,
            "page_end": p.page_end,
            "section": p.section, "title": p.title, "date": p.date, "score": p.score,
            "chunk_id": p.chunk_id}
