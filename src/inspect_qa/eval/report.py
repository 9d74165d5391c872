"""Rendering results: the terminal table, the Markdown reports, and the comparison of two runs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .diagnostics import cause_counts
from .metrics import ANSWER_METRICS, BEIR_METRICS, GOLD_METRICS, LATENCY_METRICS

_ANSWER_SHORT = {"answer_accuracy": "ans.acc", "answer_overlap": "ans.ovl",
                 "abstention_precision": "abst.P", "abstention_recall": "abst.R"}


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], markdown: bool) -> str:
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        return "\n".join(lines)
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=True)]
    fmt = "  ".join(f"{{:<{w}}}" if i == 0 else f"{{:>{w}}}" for i, w in enumerate(widths))
    return "\n".join(fmt.format(*r) for r in [header, *rows])


def _num(x: Any, digits: int = 3) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


def gold_table(result: Mapping[str, Any], markdown: bool = False) -> str:
    """One row per mode: ranking metrics, latency, answer metrics."""
    header = ["mode", *GOLD_METRICS, "p50 ms", "p95 ms", *(_ANSWER_SHORT[m] for m in ANSWER_METRICS)]
    rows = []
    for mode, res in result["modes"].items():
        m, a = res["metrics"], res["answers"]
        rows.append([mode, *(_num(m[x]) for x in GOLD_METRICS),
                     *(_num(m[x], 1) for x in LATENCY_METRICS),
                     *(_num(a[x]) for x in ANSWER_METRICS)])
    return _table(header, rows, markdown)


def tag_table(result: Mapping[str, Any], mode: str, markdown: bool = False) -> str:
    """Per-tag hit@5, mrr@10, answer accuracy, abstention rate and p50 latency for one mode."""
    header = ["tag", "n", "hit@5", "mrr@10", "ans.acc", "abstained", "p50 ms"]
    rows = []
    for tag, row in result["modes"][mode]["by_tag"].items():
        rows.append([tag, str(int(row["n"])), _num(row.get("hit@5")), _num(row.get("mrr@10")),
                     _num(row.get("answer_accuracy")), _num(row.get("abstained")),
                     _num(row.get("p50_ms"), 1)])
    return _table(header, rows, markdown)


def _provenance(result: Mapping[str, Any]) -> list[str]:
    env = result["environment"]
    commit = (env.get("git_commit") or "unknown")[:12] + (" (dirty)" if env.get("git_dirty") else "")
    return [
        f"- date: {env['date']}; inspect-qa {env['package_version']}; commit {commit}",
        f"- model: {env['model']} (fingerprint {str(env['model_fingerprint'])[:16]})",
        f"- configuration: `{result['config']}`",
    ]


def abstention_table(result: Mapping[str, Any], mode: str, markdown: bool = False) -> str:
    """For each kind of question (its tags), how many were asked and how many abstained: the
    unanswerable kinds should be abstained, the answerable ones answered."""
    header = ["kind", "n", "abstained", "answered"]
    rows = []
    for tag, row in result["modes"][mode]["by_tag"].items():
        n = int(row["n"])
        abstained = round(row.get("abstained", 0.0) * n)
        rows.append([tag, str(n), f"{abstained} ({row.get('abstained', 0.0):.0%})",
                     str(n - abstained)])
    return _table(header, rows, markdown)


def reliability_table(calibration: Mapping[str, Any], markdown: bool = False) -> str:
    """Confidence bins against how often the answer was right."""
    header = ["confidence", "n", "mean confidence", "right"]
    rows = [[f"{b['low']:.1f}–{b['high']:.1f}", str(b["n"]), _num(b["mean_confidence"]),
             _num(b["share_right"])] for b in calibration["bins"]]
    return _table(header, rows, markdown)


def gold_markdown(result: Mapping[str, Any], max_misses: int = 40,
                  plot: str | None = None) -> str:
    """The short Markdown report of a gold-set run (``plot``: the reliability plot's file name,
    beside the report)."""
    c = result["counts"]
    out = [f"# Gold-set evaluation: {result['config']['gold']} on {result['config']['corpus']}",
           "", *_provenance(result),
           f"- questions: {c['questions']} ({c['answerable']} answerable, "
           f"{c['unanswerable']} unanswerable); passages searched per question: "
           f"{result['config']['k']}; answers read {result['config']['answer_k']} passages",
           "", gold_table(result, markdown=True), ""]
    modes = list(result["modes"])
    if modes:
        mode = "hybrid" if "hybrid" in modes else modes[0]
        out += [f"## By tag ({mode})", "", tag_table(result, mode, markdown=True), ""]
        out += [f"## Abstention by kind of question ({mode})", "",
                abstention_table(result, mode, markdown=True), ""]
        cal = result["modes"][mode].get("calibration")
        if cal:
            out += [f"## Calibration ({mode})", "",
                    f"Expected calibration error {cal['ece']:.3f} over {cal['n']} questions "
                    "(10 equal-width bins; an answer is right when it holds a whole evidence "
                    "quote; for an abstention, the sentence it would have given).", "",
                    reliability_table(cal, markdown=True), ""]
            if plot:
                out += [f"![Reliability: confidence against share right]({plot})", ""]
    misses = result.get("misses", [])
    out += [f"## Misses ({len(misses)}: evidence not in the top 5 of some mode)", ""]
    counts = cause_counts(misses)
    if counts:
        out += ["| cause | questions |", "|---|---|"]
        out += [f"| {cause} | {n} |" for cause, n in counts]
        out.append("")
    for m in misses[:max_misses]:
        rank = ", ".join(f"{k} {v if v is not None else '>' + str(result['config']['depth'])}"
                         for k, v in m["rank"].items())
        placement = ", ".join(e["placement"] for e in m["evidence"])
        out.append(f"- **{m['id']}** (line {m['line']}) {m['question']} — rank: {rank}; "
                   f"quote: {placement}")
        top = m["best_instead"].get("hybrid")
        if top:
            out.append(f"  - hybrid's top instead: {top['source']}:{top['start']}-{top['end']} "
                       f"“{top['text'][:140]}”")
    if len(misses) > max_misses:
        out.append(f"- … {len(misses) - max_misses} more in the JSON file")
    return "\n".join(out) + "\n"


def beir_table(result: Mapping[str, Any], markdown: bool = True) -> str:
    """nDCG@10 and R@100 on the test split, with the published figure where there is one."""
    header = ["system", "nDCG@10", "R@100", "published nDCG@10"]
    rows = [[r["label"], _num(r["ndcg@10"], 4), _num(r["recall@100"], 4),
             _num(r.get("published"), 4) if r.get("published") is not None else "–"]
            for r in result["rows"]]
    return _table(header, rows, markdown)


def beir_markdown(result: Mapping[str, Any]) -> str:
    """The Markdown report of a BEIR run: the table, how hybrid was chosen, timings."""
    t = result["timing"]
    out = [f"# {result['dataset']} (BEIR), test split: {result['counts']['test_queries']} queries, "
           f"{result['counts']['documents']} documents", "", *_provenance(result), "",
           beir_table(result), "",
           f"Wall time on this machine ({result['environment']['machine']}): "
           f"{t['total_s']:.0f} s in all; embedding {t['embed_s']:.0f} s "
           f"({'cached' if t['embeddings_cached'] else 'computed'}), lexical {t['lexical_s']:.0f} s, "
           f"fusion tuning {t['tuning_s']:.0f} s.", "",
           *result["notes"], "",
           "## Hybrid fusion chosen on the train split "
           f"({result['counts']['train_queries']} queries); test figures for reference only", "",
           "| lexical tokenizer | fusion | best w on train | train nDCG@10 | test nDCG@10 |",
           "|---|---|---|---|---|"]
    for row in result["fusion_search"]:
        mark = " **(chosen)**" if row["chosen"] else ""
        out.append(f"| {row['lexical']} | {row['method']} depth {row['depth']}{mark} | "
                   f"{row['weight']:.2f} | "
                   f"{row['train_ndcg@10']:.4f} | {row['test_ndcg@10']:.4f} |")
    return "\n".join(out) + "\n"


def compare(a: Mapping[str, Any], b: Mapping[str, Any], names: tuple[str, str]) -> str:
    """Metric by metric, B minus A, for every mode (or BEIR row) both runs have."""
    lines = [f"A = {names[0]}", f"B = {names[1]}", ""]

    def flat(res: Mapping[str, Any]) -> dict[str, dict[str, float]]:
        if res.get("kind") == "beir":
            return {r["label"]: {m: r[m] for m in BEIR_METRICS} for r in res["rows"]}
        return {mode: {**v["metrics"], **{m: v["answers"][m] for m in ANSWER_METRICS}}
                for mode, v in res["modes"].items()}

    fa, fb = flat(a), flat(b)
    rows = []
    for mode in [m for m in fa if m in fb]:
        for metric in [m for m in fa[mode] if m in fb[mode]]:
            x, y = fa[mode][metric], fb[mode][metric]
            rows.append([mode, metric, _num(x, 4), _num(y, 4), f"{y - x:+.4f}"])
    if not rows:
        return "\n".join([*lines, "the two results share no mode and metric"])
    lines.append(_table(["mode", "metric", "A", "B", "B - A"], rows, markdown=False))
    if a.get("kind") == "gold" and b.get("kind") == "gold":
        changed = _changed_questions(a, b)
        if changed:
            lines += ["", "questions whose first-hit rank changed (A → B):", *changed]
    return "\n".join(lines)


def _changed_questions(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[str]:
    ra = {q["id"]: q["first_hit"] for q in a.get("questions", [])}
    out = []
    for q in b.get("questions", []):
        if q["id"] in ra and ra[q["id"]] != q["first_hit"]:
            for mode, rank in q["first_hit"].items():
                before = ra[q["id"]].get(mode)
                if before != rank:
                    out.append(f"  {q['id']} {mode}: {before} → {rank}")
    return out
