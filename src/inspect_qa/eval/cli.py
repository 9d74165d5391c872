"""``python -m inspect_qa.eval`` (and ``inspect-qa eval``): evaluate retrieval and answers.

With no arguments: the gold set ``eval/gold.jsonl`` on the seed corpus ``seeds`` (index built or
reused in ``index``), every mode, a table on the terminal, results saved under ``eval/results/``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from ..errors import InspectQAError

MODES = ("dense", "lexical", "hybrid")
DEFAULT_GOLD = "eval/gold.jsonl"
DEFAULT_CORPUS = "seeds"
DEFAULT_INDEX = "index"
DEFAULT_RESULTS = "eval/results"


def _parser(prog: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=prog,
        description="Evaluate retrieval and answers on a gold set, or retrieval on a BEIR "
                    "dataset. Exit status: 0 ok, 1 a --fail-under threshold was missed, 2 error.",
    )
    p.add_argument("--gold", default=DEFAULT_GOLD, help=f"gold JSONL file ({DEFAULT_GOLD})")
    p.add_argument("--corpus", default=DEFAULT_CORPUS, help=f"corpus folder ({DEFAULT_CORPUS})")
    p.add_argument("--index", default=None,
                   help=f"index directory ({DEFAULT_INDEX}; for --beir: index/beir-NAME, where "
                        "the embeddings are cached)")
    p.add_argument("--modes", default=",".join(MODES),
                   help="comma-separated modes to evaluate (dense,lexical,hybrid)")
    p.add_argument("-k", type=int, default=10,
                   help="passages searched per question (default 10; metrics @10 need 10)")
    p.add_argument("--json", metavar="FILE", help="also write the results as JSON to FILE")
    p.add_argument("--beir", metavar="DIR", help="evaluate a BEIR-layout dataset instead")
    p.add_argument("--timeline", metavar="FILE",
                   help="evaluate timelines on a timeline gold set instead (eval/timeline.jsonl): "
                        "per-report precision and recall, order")
    p.add_argument("--fail-under", action="append", default=[], metavar="[MODE:]METRIC=VALUE",
                   help="exit 1 when a metric is under VALUE (repeatable), e.g. hit@5=0.8")
    p.add_argument("--compare", nargs=2, metavar=("A.json", "B.json"),
                   help="compare two saved results (B minus A) and exit")
    p.add_argument("--model", default=None,
                   help="embedding model (default: the bundled all-MiniLM-L6-v2; hashing-N for "
                        "the test embedder)")
    p.add_argument("--results", default=DEFAULT_RESULTS,
                   help=f"where each run saves JSON and Markdown ({DEFAULT_RESULTS})")
    p.add_argument("--no-save", action="store_true", help="do not save under --results")
    p.add_argument("-v", "--verbose", action="store_true", help="log progress")
    return p


def _modes(text: str) -> list[str]:
    modes = [m.strip() for m in text.split(",") if m.strip()]
    bad = [m for m in modes if m not in MODES]
    if bad or not modes:
        raise InspectQAError(f"--modes {text!r}: use a comma-separated list of {', '.join(MODES)}")
    return list(dict.fromkeys(modes))


def _embedder(model: str | None) -> Any:
    from ..embedding import DEFAULT_MODEL, load_embedder

    return load_embedder(model or DEFAULT_MODEL)


def run_gold_eval(args: argparse.Namespace) -> dict[str, Any]:
    """Evaluate the gold set (see the module docstring); returns the result."""
    from .. import MAX_K, Retriever
    from ..documents import read_corpus
    from .diagnostics import diagnose
    from .gold import load_gold
    from .results import environment
    from .runner import ANSWER_K, run_gold, summarise

    modes = _modes(args.modes)
    if not 1 <= args.k <= MAX_K:
        raise InspectQAError(f"-k {args.k}: use 1 to {MAX_K}")
    docs = {d.id: d.text for d in read_corpus(args.corpus)}
    items = load_gold(args.gold, docs)  # a bad gold file fails before any embedding
    embedder = _embedder(args.model)
    index_dir = args.index or DEFAULT_INDEX
    retriever = Retriever.build(args.corpus, index_dir, embedder=embedder)
    runs = run_gold(retriever, items, modes, args.k, gold_path=args.gold)
    answerable = sum(1 for it in items if it.answerable)
    by_id = {m: {r.id: r for r in rows} for m, rows in runs.items()}
    return {
        "kind": "gold",
        "config": {"gold": args.gold, "corpus": args.corpus, "index": index_dir,
                   "modes": modes, "k": args.k, "answer_k": ANSWER_K, "depth": MAX_K},
        "environment": environment(embedder.name, embedder.fingerprint()),
        "counts": {"questions": len(items), "answerable": answerable,
                   "unanswerable": len(items) - answerable},
        "modes": {mode: summarise(items, rows) for mode, rows in runs.items()},
        "misses": diagnose(retriever, items, runs, depth=MAX_K),
        "questions": [
            {"id": it.id, "tags": list(it.tags),
             "first_hit": {m: by_id[m][it.id].first_hit for m in modes},
             "answer": {m: by_id[m][it.id].answer_text for m in modes},
             "confidence": {m: by_id[m][it.id].confidence for m in modes},
             "right": {m: by_id[m][it.id].right for m in modes}}
            for it in items
        ],
    }


def run_timeline_eval(args: argparse.Namespace) -> dict[str, Any]:
    """Evaluate timelines on a timeline gold set; returns the result."""
    from .. import Retriever
    from ..documents import read_corpus
    from .results import environment
    from .timeline import load_timeline_gold, run_timeline

    docs = {d.id: d.text for d in read_corpus(args.corpus)}
    items, order = load_timeline_gold(args.timeline, docs)
    embedder = _embedder(args.model)
    retriever = Retriever.build(args.corpus, args.index or DEFAULT_INDEX, embedder=embedder)
    result = run_timeline(retriever, items, order)
    result["config"] = {"timeline": args.timeline, "corpus": args.corpus}
    result["environment"] = environment(embedder.name, embedder.fingerprint())
    return result


def run_beir_eval(args: argparse.Namespace) -> dict[str, Any]:
    """Evaluate a BEIR dataset; returns the result."""
    from .beir_run import evaluate_beir
    from .results import environment

    name = Path(args.beir).resolve().name
    cache = args.index or str(Path(DEFAULT_INDEX) / f"beir-{name}")
    embedder = _embedder(args.model)
    result = evaluate_beir(args.beir, cache, embedder)
    result["config"] = {"beir": args.beir, "index": cache}
    result["environment"] = environment(embedder.name, embedder.fingerprint())
    return result


def _report(result: dict[str, Any], args: argparse.Namespace) -> None:
    from .diagnostics import cause_counts
    from .plot import reliability_plot
    from .report import beir_markdown, beir_table, gold_markdown, gold_table
    from .results import save, stem, write_json

    if result["kind"] == "timeline":
        from .timeline import timeline_markdown, timeline_table

        markdown = timeline_markdown(result)
        print(timeline_table(result))
        print(f"timeline p50 {result['p50_ms']:.1f} ms, answer p50 "
              f"{result['answer_p50_ms']:.1f} ms")
        name = f"{Path(args.timeline).stem}-{Path(args.corpus).resolve().name}"
    elif result["kind"] == "beir":
        markdown = beir_markdown(result)
        print(beir_table(result, markdown=False))
        print(f"hybrid fusion: {result['fusion']} (chosen on train); "
              f"wall time {result['timing']['total_s']:.0f} s")
        name = f"beir-{result['dataset']}"
    else:
        name = f"{Path(args.gold).stem}-{Path(args.corpus).resolve().name}"
        mode = "hybrid" if "hybrid" in result["modes"] else next(iter(result["modes"]))
        plot = None if args.no_save else f"{stem(result, name)}-reliability.png"
        markdown = gold_markdown(result, plot=plot)
        print(gold_table(result))
        misses = result["misses"]
        top = "; ".join(f"{c} ({n})" for c, n in cause_counts(misses)[:4])
        print(f"misses (evidence not in some mode's top 5): {len(misses)}" + (
            f" — {top}" if top else ""))
        a, cal = result["modes"][mode]["answers"], result["modes"][mode]["calibration"]
        print(f"{mode}: unanswerable abstained {a['abstention_recall']:.3f}, answerable wrongly "
              f"abstained {a['wrong_abstention_rate']:.3f}, calibration error {cal['ece']:.3f}")
        if plot:
            Path(args.results).mkdir(parents=True, exist_ok=True)
            reliability_plot(cal, Path(args.results) / plot,
                             f"{Path(args.gold).name}, {mode}")
    if args.json:
        write_json(result, args.json)
    if not args.no_save:
        json_path, md_path = save(result, markdown, args.results, name)
        print(f"saved {json_path} and {md_path}")


def main(argv: list[str] | None = None, *, prog: str = "python -m inspect_qa.eval") -> int:
    """Run the evaluation; returns 0 (ok), 1 (a --fail-under threshold missed) or 2 (error).
    ``prog`` is the command named in its usage lines."""
    try:
        args = _parser(prog).parse_args(sys.argv[1:] if argv is None else argv)
    except SystemExit as exc:  # --help or a usage error: argparse has printed why
        return int(exc.code or 0)
    level = logging.INFO if args.verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        handler.setLevel(level)  # bm25s sets its own logger to DEBUG on import
    try:
        from .results import Threshold, check_thresholds, read_json

        thresholds = [Threshold.parse(t) for t in args.fail_under]
        if args.compare:
            from .report import compare

            a, b = (read_json(p) for p in args.compare)
            print(compare(a, b, (args.compare[0], args.compare[1])))
            return 0
        if args.timeline:
            result = run_timeline_eval(args)
        else:
            result = run_beir_eval(args) if args.beir else run_gold_eval(args)
        _report(result, args)
        failures = check_thresholds(result, thresholds)
    except InspectQAError as exc:
        print(f"inspect-qa eval: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("inspect-qa eval: interrupted", file=sys.stderr)
        return 130
    for line in failures:
        print(f"FAIL: {line}", file=sys.stderr)
    return 1 if failures else 0
