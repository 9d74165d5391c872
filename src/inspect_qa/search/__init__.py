"""The search path, as stages over candidates; each module owns its data and calls only
downwards (:class:`inspect_qa.Retriever` runs them in order)::

    analysis      the question: checked text, words, report hints, kind of answer asked,
                  its vector and word pieces
    first_stage   candidates from the whole corpus: dense (FAISS) and BM25, passages and
                  sentences, plus an even sample of passages that anchors score scaling
    evidence      on the candidates only: passage and sentence scores, late interaction
    fusion        the signals scaled and weighted into one score; re-ranking of the best
    selection     the answering sentence and the evidence its confidence is read from

:mod:`inspect_qa.search.corpus` is the index as the stages read it: arrays over passages and
sentences, and texts read when a passage is shown.
"""
