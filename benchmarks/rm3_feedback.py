"""RM3-style pseudo-relevance feedback for BM25 on questions whose words find little, replayed.

    .venv/bin/python benchmarks/rm3_feedback.py [--index index]

For each answerable question of the four sets, the shipped hybrid ranking (question-dependent
weights, see ``benchmarks/adaptive_fusion.py``) is replayed from evidence computed once. Below
the lexical-strength gate, the best ``fb_docs`` passages give the feedback terms (words the
question lacks, weighted by their share of the passage times idf); the best ``fb_terms`` of them,
weighted, are scored by BM25 over the candidates and added to the question's own BM25 (passages
and sentences), scaled to its maximum and multiplied by ``beta``. Prints hit@1/hit@5/MRR@10 per
set for each setting. Not shipped: no setting gains on ``eval/plain.jsonl`` (README, "Questions
in plain words").
"""

from __future__ import annotations

import argparse
import collections
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import adaptive_fusion as AF

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--index", default=str(ROOT / "index"))
    args = ap.parse_args()

    from inspect_qa.retriever import Retriever
    from inspect_qa.search import evidence, fusion

    r = Retriever.build(ROOT / "seeds", args.index, progress=True)
    ix, lex = r.index, r.index.lexical
    data = {name: [(case, AF.ranking(case), set(lex.tokenize(case[4])), case[0].rows)
                   for case in cases] for name, cases in AF.cases_of(r).items()}

    tokens = collections.defaultdict(list)
    scores: dict[str, tuple] = {}

    def words(row: int) -> list[str]:
        if row not in tokens:
            tokens[row] = lex.tokenize(ix.chunks[row].text)
        return tokens[row]

    def term(t: str) -> tuple:
        if t not in scores:
            scores[t] = (lex.question(t), ix.sentence_lexical.question(t))
        return scores[t]

    def feedback(entry, fb_docs: int, fb_terms: int, beta: float):
        case, order, asked, rows = entry
        ev, strength = case[0], case[3]
        if beta == 0 or strength > fusion.FEW_WORDS_GATE[1]:
            return case
        weight: collections.Counter = collections.Counter()
        for p in order[:fb_docs]:
            all_words = words(int(rows[p]))
            for t, n in collections.Counter(w for w in all_words if w not in asked).items():
                weight[t] += n / len(all_words) * lex.idf(t)
        best = weight.most_common(fb_terms)
        if not best:
            return case
        total = sum(v for _, v in best)
        ec, es = np.zeros(len(rows)), np.zeros(len(rows))
        for t, v in best:
            lc, sl = term(t)
            ec += v / total * np.asarray(lc[rows])
            es += v / total * evidence._best(np.asarray(sl[ev.sentences]), ev.sentence_starts)
        scale_c = (ev.lexical_chunk.max() or 1.0) / (ec.max() or 1.0)
        scale_s = (ev.lexical_sentence.max() or 1.0) / (es.max() or 1.0)
        moved = replace(ev, lexical_chunk=ev.lexical_chunk + beta * scale_c * ec,
                        lexical_sentence=ev.lexical_sentence + beta * scale_s * es)
        return (moved, *case[1:])

    settings = [(3, 10, 0.0)] + [(d, t, b) for d in (3, 5, 10) for t in (5, 10, 20)
                                 for b in (0.3, 0.6, 1.0)]
    for fb_docs, fb_terms, beta in settings:
        row = []
        for name in AF.SETS:
            v = AF.score([feedback(e, fb_docs, fb_terms, beta) for e in data[name]])
            row.append(f"{name} {v[0]:.3f}/{v[1]:.3f}/{v[2]:.3f}")
        print(f"docs {fb_docs:2} terms {fb_terms:2} beta {beta:.1f}  " + "  ".join(row),
              flush=True)


if __name__ == "__main__":
    main()
