"""inspect-qa: ask questions of inspection reports; get verbatim answers with exact citations."""

__version__ = "0.1.0"
