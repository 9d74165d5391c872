"""inspect-qa: ask questions of inspection reports; get verbatim answers with exact citations."""

__version__ = "0.1.0"

from .answers import Answer  # noqa: E402
from .chunking import Chunk, ChunkSettings  # noqa: E402
from .documents import Document  # noqa: E402
from .embedding import Embedder, HashingEmbedder, SentenceTransformerEmbedder  # noqa: E402
from .errors import (  # noqa: E402
    CorpusError,
    IndexCorrupt,
    IndexIncompatible,
    IndexNotFound,
    InspectQAError,
    InvalidQuery,
    ModelNotAvailable,
    UnreadableDocument,
)
from .retriever import MAX_K, MAX_QUESTION_CHARS, Filters, Passage, Retriever  # noqa: E402

__all__ = [
    "MAX_K",
    "MAX_QUESTION_CHARS",
    "Answer",
    "Chunk",
    "ChunkSettings",
    "CorpusError",
    "Document",
    "Embedder",
    "Filters",
    "HashingEmbedder",
    "IndexCorrupt",
    "IndexIncompatible",
    "IndexNotFound",
    "InspectQAError",
    "InvalidQuery",
    "ModelNotAvailable",
    "Passage",
    "Retriever",
    "SentenceTransformerEmbedder",
    "UnreadableDocument",
    "__version__",
]
