"""inspect-qa: ask questions of inspection reports; get verbatim answers with exact citations."""

__version__ = "0.1.0"

from .answers import Answer
from .chunking import Chunk, ChunkSettings
from .documents import Document
from .embedding import Embedder, HashingEmbedder, SentenceTransformerEmbedder
from .errors import (
    CorpusError,
    IndexCorrupt,
    IndexIncompatible,
    IndexNotFound,
    InspectQAError,
    InvalidQuery,
    ModelNotAvailable,
    UnreadableDocument,
)
from .filters import Filters
from .index import BuildReport, add_documents, build_index, optimize, remove_documents
from .passages import Passage
from .retriever import MAX_K, MAX_QUESTION_CHARS, Retriever

__all__ = [
    "MAX_K",
    "MAX_QUESTION_CHARS",
    "Answer",
    "BuildReport",
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
    "add_documents",
    "build_index",
    "optimize",
    "remove_documents",
]
