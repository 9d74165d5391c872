"""Adapters for other frameworks (optional extras; the core never imports them):

- :mod:`inspect_qa.integrations.langchain`: ``InspectQARetriever``, a LangChain retriever
  (``pip install 'inspect-qa[langchain]'``).
- :mod:`inspect_qa.integrations.llamaindex`: ``InspectQARetriever``, a LlamaIndex retriever
  (``pip install 'inspect-qa[llamaindex]'``).
"""
