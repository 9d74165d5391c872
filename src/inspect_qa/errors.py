"""Errors raised at inspect-qa's public entry points.

Every message says what went wrong and how to fix it (which command to run, which file is bad).
"""

from __future__ import annotations


class InspectQAError(Exception):
    """Base class for every error inspect-qa raises on purpose."""


class InvalidQuery(InspectQAError, ValueError):
    """A question, ``k``, mode or filter that cannot be searched."""


class CorpusError(InspectQAError):
    """The corpus folder is missing, empty, or holds a file that cannot be read."""


class UnreadableDocument(CorpusError):
    """A file in the corpus is not valid UTF-8 text."""


class IndexNotFound(InspectQAError, FileNotFoundError):
    """No index at the given directory."""


class IndexCorrupt(InspectQAError):
    """The index directory is damaged: a file is missing or its checksum does not match."""


class IndexIncompatible(InspectQAError):
    """The index was built by another format version or with another model."""


class ModelNotAvailable(InspectQAError):
    """The embedding model cannot be loaded offline."""


class GoldSetError(InspectQAError, ValueError):
    """A gold question/answer file has a bad line."""
