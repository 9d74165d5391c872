"""Command line: ``inspect-qa index | ask | search | timeline | info | check | eval | serve``."""

from __future__ import annotations

import argparse
import io
import json
import logging
import re
import sys
from typing import TYPE_CHECKING, Any

from .errors import InspectQAError

if TYPE_CHECKING:
    from collections.abc import Callable

    from .answers import Answer
    from .passages import Passage
    from .timeline import Timeline

DEFAULT_CORPUS = "seeds"
DEFAULT_INDEX = "index"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="inspect-qa",
        description="Ask questions of inspection reports; answers are verbatim and cited.",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="log what happens")
    sub = p.add_subparsers(dest="command", required=True)

    ix = sub.add_parser(
        "index", help="build or update the index of a folder of reports",
        description="Build the index of a folder of reports (.pdf, .docx, .html/.htm, .txt, "
        ".md), or bring it up to date: new and changed files are read and embedded, removed "
        "ones dropped, unchanged ones untouched. A file that cannot be read is skipped and "
        "listed with the reason.")
    ix.add_argument("corpus", nargs="?", default=DEFAULT_CORPUS, help="folder of reports")
    ix.add_argument("--out", default=DEFAULT_INDEX, help="index directory (default: index)")
    ix.add_argument("--model", default=None,
                    help="local sentence-transformers model directory (default: bundled MiniLM)")
    ix.add_argument("--chunk-tokens", type=int, default=None,
                    help="largest chunk, in model word pieces (default 200)")
    ix.add_argument("--tokens", choices=("auto", "exact", "compressed"), default=None,
                    help="how word-piece vectors are kept: exact (float16, ~0.75 KB a piece), "
                    "compressed (~54 bytes a piece) or auto (exact up to 500 passages); "
                    "default: as the index was built, else auto")
    ix.add_argument("--dense", choices=("auto", "flat", "ivf"), default=None,
                    help="how vectors are searched: flat (exact), ivf (IVF-PQ candidates, "
                    "scored exactly) or auto (ivf past 32,768 vectors); default: as the index "
                    "was built, else auto")
    _file_options(ix)

    add = sub.add_parser("add", help="add or update reports in an index",
                         description="Add reports to an existing index, or update them. A file "
                         "inside the index's corpus folder keeps the id it has there; any other "
                         "is known by its file name, and stays when the folder is indexed again.")
    add.add_argument("files", nargs="+", metavar="FILE")
    add.add_argument("--index", default=DEFAULT_INDEX, help="index directory (default: index)")
    _file_options(add)

    rm = sub.add_parser("remove", help="remove reports from an index",
                        description="Remove documents from an index by id (as `inspect-qa info` "
                        "lists them). The files are not touched.")
    rm.add_argument("ids", nargs="+", metavar="DOC")
    rm.add_argument("--index", default=DEFAULT_INDEX, help="index directory (default: index)")

    opt = sub.add_parser("optimize", help="merge an index's segments into few large ones",
                         description="Merge the segments of an index into one (into several of "
                         "up to 262,144 passages each, for a larger index) and drop the "
                         "passages of removed or changed reports for good. Nothing is embedded "
                         "again. Adding and removing reports merges small segments on its own; "
                         "this is for after many changes, or after building a large index: "
                         "large segments are searched faster.")
    opt.add_argument("index", nargs="?", default=DEFAULT_INDEX,
                     help="index directory (default: index)")

    for name, what in (("ask", "answer a question: the sentence that answers it, and its "
                                "passages"),
                       ("search", "the best passages for a question, best first")):
        q = sub.add_parser(name, help=what, description=what + ". QUESTION - reads questions "
                           "from standard input, one per line, and writes one JSON line each "
                           "(the model is loaded once).")
        q.add_argument("question", metavar="QUESTION", help="the question, or - for stdin")
        q.add_argument("-k", type=int, default=5, help="passages to return (1-50, default 5)")
        q.add_argument("--mode", default="hybrid", help="hybrid (default), dense or lexical")
        q.add_argument("--index", default=DEFAULT_INDEX, help="index directory (default: index)")
        q.add_argument("--source", action="append", default=None, metavar="DOC",
                       help="search only this document (repeatable; its id in the corpus)")
        q.add_argument("--from", dest="date_from", default=None, metavar="DATE",
                       help="documents dated on or after DATE (YYYY, YYYY-MM or YYYY-MM-DD)")
        q.add_argument("--to", dest="date_to", default=None, metavar="DATE",
                       help="documents dated on or before DATE")
        _kind_options(q)
        q.add_argument("--json", action="store_true",
                       help=f"print JSON (schemas/{'answer' if name == 'ask' else 'search'}"
                            ".schema.json)")

    tl = sub.add_parser("timeline", help="what each report says about a topic, in date order",
                        description="What each report says about a topic: its best sentences, "
                        "verbatim and cited, reports in date order; reports that say nothing "
                        "are left out.")
    tl.add_argument("topic", help='the topic; "-" reads one a line from standard input and '
                    "prints a JSON line for each")
    tl.add_argument("--per-report", type=int, default=2, help="sentences per report (1-5)")
    tl.add_argument("--index", default=DEFAULT_INDEX, help="index directory (default: index)")
    tl.add_argument("--source", action="append", default=None, metavar="DOC",
                    help="only this document (repeatable)")
    tl.add_argument("--from", dest="date_from", default=None, metavar="DATE")
    tl.add_argument("--to", dest="date_to", default=None, metavar="DATE")
    _kind_options(tl)
    tl.add_argument("--json", action="store_true",
                    help="print JSON (schemas/timeline.schema.json)")

    info = sub.add_parser("info", help="summarise an index's manifest")
    info.add_argument("index", nargs="?", default=DEFAULT_INDEX)

    chk = sub.add_parser("check", help="verify an index: checksums, offsets, model window")
    chk.add_argument("index", nargs="?", default=DEFAULT_INDEX)

    ev = sub.add_parser("eval", help="evaluate retrieval (same options as python -m inspect_qa.eval)",
                        add_help=False)
    ev.add_argument("rest", nargs=argparse.REMAINDER)

    srv = sub.add_parser("serve", help="serve the question page (Gradio)",
                         description="Serve the question page and the HTTP JSON API (/api/...) "
                         "on one port, after building or updating the index of --corpus.")
    srv.add_argument("--host", default="127.0.0.1",
                     help="address to listen on (default 127.0.0.1, this machine only; "
                          "0.0.0.0 for every network)")
    srv.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    srv.add_argument("--index", default=DEFAULT_INDEX, help="index directory (default: index)")
    srv.add_argument("--corpus", default=DEFAULT_CORPUS,
                     help="folder of reports the index is built or updated from "
                          f"(default: {DEFAULT_CORPUS})")
    return p


def _file_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--strict", action="store_true",
                   help="stop with an error, writing nothing, if any file cannot be read")
    p.add_argument("--max-file-mb", type=float, default=None, metavar="MB",
                   help="skip files larger than this (default 100)")


def _kind_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--kind", dest="kinds", action="append", default=None, metavar="KIND",
                   help='only documents of this kind, e.g. "monitoring letter" (repeatable)')
    p.add_argument("--authority", dest="authorities", action="append", default=None,
                   metavar="NAME", help='only documents about this authority, e.g. "Dudley" '
                   "(repeatable)")


def _max_bytes(args: argparse.Namespace) -> int | None:
    if args.max_file_mb is None:
        return None
    if not args.max_file_mb > 0:
        raise InspectQAError(f"--max-file-mb must be above 0, not {args.max_file_mb}")
    return int(args.max_file_mb * 2**20)


def _print_report(rep: Any) -> None:
    """What a build, an addition or a removal did, for people."""
    if not rep.rebuilt:
        total = len(rep.unchanged) + len(rep.kept) + len(rep.stale)
        print(f"index {rep.index_dir} is up to date: {total} "
              f"documents, {rep.chunks} chunks (nothing changed)")
    else:
        total = (len(rep.added) + len(rep.changed) + len(rep.unchanged) + len(rep.kept)
                 + len(rep.stale))
        print(f"index {rep.index_dir}: {rep.chunks} chunks from {total} documents "
              f"in {rep.seconds:.1f}s")
    rows = (("added", rep.added), ("updated", rep.changed), ("removed", rep.removed),
            ("unchanged", rep.unchanged if rep.rebuilt else ()),
            ("kept", rep.kept))
    for label, ids in rows:
        if ids:
            more = " …" if len(ids) > 5 else ""
            print(f"  {label:9} {len(ids):4}  {', '.join(ids[:5])}{more}")
    if rep.kept:
        print("            (kept: added with `inspect-qa add`; drop with `inspect-qa remove`)")
    if rep.lost:
        more = " …" if len(rep.lost) > 5 else ""
        print(f"  lost      {len(rep.lost):4}  {', '.join(rep.lost[:5])}{more}")
        print("            (held by the index from outside the folder; their stored text, or "
              "the index's record of them, was damaged: add again those you want)")
    if rep.empty:
        more = " …" if len(rep.empty) > 5 else ""
        print(f"  no text   {len(rep.empty):4}  {', '.join(rep.empty[:5])}{more}")
        print("            (indexed, but too little text for a passage: nothing in them can "
              "be found)")
    if rep.rebuilt:
        print(f"  embedded  {rep.embedded_chunks:4} chunks")
    if rep.skipped:
        what = ("not read; --strict makes this an error" if rep.stale
                else "not indexed; --strict makes this an error")
        print(f"  skipped   {len(rep.skipped):4}  ({what})")
        for doc_id, reason in rep.skipped:
            print(f"    {doc_id}: {reason}")
    if rep.ignored:
        print("  ignored   " + ", ".join(f"{n} {suffix}" for suffix, n in rep.ignored)
              + " (formats inspect-qa does not read)")


def _cmd_add(args: argparse.Namespace) -> int:
    from .index import add_documents

    _print_report(add_documents(args.index, args.files, progress=True, strict=args.strict,
                                max_bytes=_max_bytes(args)))
    return 0


def _cmd_remove(args: argparse.Namespace) -> int:
    from .index import remove_documents

    _print_report(remove_documents(args.index, args.ids, progress=True))
    return 0


def _cmd_optimize(args: argparse.Namespace) -> int:
    from .index import optimize
    from .storage import read_manifest

    before = read_manifest(args.index)["counts"]
    rep = optimize(args.index, progress=True)
    after = read_manifest(args.index)["counts"]
    if not rep.merged:
        print(f"index {rep.index_dir} is already merged ({after['segments']} segment"
              f"{'s' if after['segments'] != 1 else ''}, no deleted reports): nothing to do")
    else:
        dropped = before.get("deleted_documents", 0)
        print(f"index {rep.index_dir}: {rep.merged} segment{'s' if rep.merged != 1 else ''} "
              f"merged ({dropped} deleted report{'s' if dropped != 1 else ''} dropped); it now has "
              f"{after['segments']} segment{'s' if after['segments'] != 1 else ''}, "
              f"{rep.chunks} chunks; {rep.seconds:.1f}s")
    return 0


def _pages(page: int | None, page_end: int | None) -> str | None:
    if not page:
        return None
    return f"pp. {page}-{page_end}" if page_end and page_end != page else f"p. {page}"


def _mark(text: str, words: set[str]) -> str:
    """Wrap the question's words found in ``text`` in [brackets] for the terminal."""
    if not words:
        return text
    # Whole words, with a plural or verb ending ("team" marks "teams", not "teammate";
    # "how" never marks "However").
    alternatives = "|".join(sorted((re.escape(w) for w in words), key=len, reverse=True))
    pattern = rf"\b(?:{alternatives})(?:s|es|ed|ing|'s|’s)?\b"
    return re.sub(pattern, lambda m: f"[{m.group(0)}]", text, flags=re.I)


def _question_words(question: str) -> set[str]:
    from .lexical import LexicalTokenizer
    from .query import QUESTION_WORDS

    tok = LexicalTokenizer()
    # Mark the question's own (unstemmed) content words; stems alone would mark word parts.
    return {w for w in re.findall(r"[\w%]+", question)
            if tok(w) and len(w) > 1 and w.lower() not in QUESTION_WORDS}


def _cmd_index(args: argparse.Namespace) -> int:
    from .chunking import ChunkSettings
    from .embedding import load_embedder
    from .index import build_index

    embedder = load_embedder(args.model) if args.model else None
    settings = (ChunkSettings(chunk_tokens=args.chunk_tokens)
                if args.chunk_tokens is not None else None)
    rep = build_index(args.corpus, args.out, embedder=embedder, settings=settings, progress=True,
                      strict=args.strict, max_bytes=_max_bytes(args), tokens=args.tokens,
                      dense=args.dense)
    _print_report(rep)
    return 0


def _checked(r: Any, question: str, args: argparse.Namespace) -> Any:
    """One question checked with the command's options, as the page and the API check them."""
    from .ui import check_query

    return check_query(r, question, args.k, args.mode, args.source, args.date_from, args.date_to,
                       args.kinds, args.authorities)


def _answer(r: Any, question: str, args: argparse.Namespace) -> Answer:
    q = _checked(r, question, args)
    return r.answer(q.question, q.k, q.mode, filters=q.filters)


def _search(r: Any, question: str, args: argparse.Namespace) -> list[Passage]:
    q = _checked(r, question, args)
    return r.search(q.question, q.k, q.mode, filters=q.filters)


def _json(r: Any, question: str, args: argparse.Namespace) -> dict[str, Any]:
    """The command's JSON for one question (schemas/answer or schemas/search)."""
    from .passages import search_dict

    if args.command == "ask":
        return _answer(r, question, args).to_dict()
    return search_dict(question, _search(r, question, args))


def _undated(r: Any, args: argparse.Namespace) -> str:
    """The note that a date range left undated documents out ("" when it did not)."""
    from .filters import undated_note

    return undated_note(_checked(r, args.question, args).filters, r.index.documents.info)


def _cmd_query(args: argparse.Namespace) -> int:
    from .retriever import Retriever

    r = Retriever.load(args.index)
    if args.question == "-":
        return _stream(lambda question: _json(r, question, args))
    if args.json:
        print(json.dumps(_json(r, args.question, args), ensure_ascii=False, indent=2))
        return 0
    words = _question_words(args.question)
    if args.command == "ask":
        a = _answer(r, args.question, args)
        passages = list(a.passages)
        if a.found:
            print(f"Answer ({a.confidence:.0%} confident): {a.text}")
            page = f" (p. {a.page})" if a.page else ""
            print(f"  — {a.source}:{a.start}-{a.end}{page}\n")
            note = _undated(r, args)
            if note:  # the answer may be in a report the date range left out
                print(f"Note: {note}\n")
        else:
            print(f"Not found in these documents. {a.reason}")
            if a.passages:
                print("Closest passages:\n")
    else:
        passages = _search(r, args.question, args)
        note = _undated(r, args)
        if not passages:
            print("No passage matches." + (" " + note if note else ""))
        elif note:
            print(f"Note: {note}\n")
    for i, p in enumerate(passages, 1):
        where = " · ".join(x for x in (p.date, p.section, _pages(p.page, p.page_end)) if x)
        print(f"[{i}] {p.title}" + (f" ({where})" if where else ""))
        print(f"    {p.source}:{p.start}-{p.end}  score {p.score:.3f}")
        print(f"    {_mark(p.text, words)}\n")
    return 0


def _stream(answer: Callable[[str], dict[str, Any]], key: str = "question") -> int:
    """One JSON line per line of standard input (``answer(line)``), so that outputs line up
    with inputs; a question (or topic: ``key``) that cannot be asked gets
    ``{key: ..., "error": ...}`` and the rest go on. Exit 1 if any failed (a blank line
    gets an error line, but is no failure)."""
    failed = 0
    if isinstance(sys.stdin, io.TextIOWrapper):  # a line that is not UTF-8 fails alone
        sys.stdin.reconfigure(errors="surrogateescape")
    for line in sys.stdin:
        question = line.rstrip("\r\n")
        # bytes that are not UTF-8 are echoed as U+FFFD, so that every output line is UTF-8
        shown = question.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        if not question.strip():
            out: dict[str, Any] = {key: shown, "error": f"a blank line: no {key}"}
            print(json.dumps(out, ensure_ascii=False), flush=True)
            continue
        try:
            out = answer(question)
        except InspectQAError as exc:
            failed += 1
            out = {key: shown, "error": str(exc)}
        print(json.dumps(out, ensure_ascii=False), flush=True)
    return 1 if failed else 0


def _cmd_timeline(args: argparse.Namespace) -> int:
    from .retriever import Retriever
    from .ui import check_query

    r = Retriever.load(args.index)

    def timeline(topic: str) -> Timeline:
        q = check_query(r, topic, 5, "hybrid", args.source, args.date_from, args.date_to,
                        args.kinds, args.authorities, topic=True)
        return r.timeline(q.question, filters=q.filters, per_report=args.per_report)

    if args.topic == "-":
        return _stream(lambda topic: timeline(topic).to_dict(), "topic")
    tl = timeline(args.topic)
    if args.json:
        print(json.dumps(tl.to_dict(), ensure_ascii=False, indent=2))
        return 0
    if not tl.entries:
        print(f"No report says anything about {tl.topic!r}.")
        return 0
    words = _question_words(tl.topic)
    last = None
    for e in tl.entries:
        if e.source != last:
            when = e.date or {"visit": "undated, placed by its visit number",
                              "undated": "undated"}[e.placed]
            visit = f" · visit {e.visit_number}" if e.visit_number else ""
            print(f"\n{when} · {e.kind or 'report'}{visit} · {e.title}")
            last = e.source
        where = " · ".join(x for x in (e.section, f"p. {e.page}" if e.page else None) if x)
        print(f"  {_mark(e.text, words)}")
        print(f"    — {e.source}:{e.start}-{e.end}" + (f" ({where})" if where else ""))
    return 0


def _cmd_info(args: argparse.Namespace) -> int:
    from .storage import current_version_dir, read_manifest

    m = read_manifest(args.index)
    print(f"index      {args.index} ({current_version_dir(args.index).name})")
    print(f"built      {m['built_at']} in {m['build_seconds']}s by inspect-qa "
          f"{m['package_version']} (format {m['format_version']})")
    print(f"model      {m['model']['name']} dim {m['model']['dimension']} "
          f"window {m['model']['max_tokens']} fingerprint {m['model']['fingerprint'][:12]}")
    print(f"chunking   {m['chunking']}")
    libs = ", ".join(f"{k} {v}" for k, v in m.get("libraries", {}).items())
    print(f"libraries  {libs}")
    c = m["counts"]
    print(f"counts     {c['documents']} documents, {c['chunks']} chunks, "
          f"{c['sentences']} sentences")
    deleted = c.get("deleted_documents", 0)
    print(f"segments   {c.get('segments', 1)}" + (
        f" ({deleted} changed or removed reports still stored; `inspect-qa optimize` drops "
        "them)" if deleted else ""))
    for doc_id, d in m["documents"].items():
        md = d["metadata"]
        print(f"  {doc_id}: {d['chunks']} chunks · {md.get('kind')} · {md.get('date') or 'undated'}"
              f" · {md.get('title')}")
        extra = [x for x in (md.get("format"),
                             f"{md['pages']} pages" if md.get("pages") else None,
                             md.get("authority"),
                             f"visit {md['visit_number']}" if md.get("visit_number") else None,
                             ", ".join(md.get("inspectors") or []) or None,
                             f"by {md['author']}" if md.get("author") else None,
                             md.get("judgement"),
                             "added" if d.get("origin") == "added" else None) if x]
        if extra:
            print(f"      {' · '.join(extra)}")
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    import numpy as np

    from .chunking import normalise
    from .storage import load_index, verify_files

    files = verify_files(args.index)  # every file, however large: loading checks the small ones
    print(f"{len(files)} files match their checksums")
    ix = load_index(args.index, verify=False)
    from .embedding import load_embedder

    emb = load_embedder(ix.model_name)
    problems = 0

    def problem(what: str) -> None:
        nonlocal problems
        problems += 1
        print(what)

    for doc_id in ix.documents:
        if not ix.documents.verify(doc_id):
            problem(f"text changed since it was indexed: {doc_id}")
    table, n_docs = ix.chunks.table, len(ix.chunks.doc_ids)
    live = range(len(ix.chunks)) if ix.live is None else np.flatnonzero(ix.live).tolist()
    for i in live:  # a deleted document's passages are never shown
        doc, start, end = (int(x) for x in table[i, :3])
        if not 0 <= doc < n_docs:
            problem(f"passage {i} names no document ({doc})")
            continue
        doc_id = ix.chunks.doc_ids[doc]
        text = ix.documents[doc_id].text
        where = f"{doc_id}:{start}-{end}"
        if not 0 <= start < end <= len(text):
            problem(f"offsets outside the document: {where}")
            continue
        first, last = ix.sentences.range_of(i)
        if first == last:
            problem(f"passage without sentences: {where}")
        for j in range(first, last):
            s = ix.sentences[j]
            if not start <= s.start < s.end <= end:
                problem(f"sentence {j} outside its passage: {doc_id}:{s.start}-{s.end}")
        chunk = ix.chunks[i]
        if normalise(text[start:end]) != chunk.text or not chunk.text:
            problem(f"offset mismatch: {where}")
        if emb.count_tokens(chunk.text) > emb.max_tokens:
            problem(f"over the model window: {where}")
    print(f"{len(live)} chunks checked: {problems} problem(s)")
    return 1 if problems else 0


def _cmd_serve(args: argparse.Namespace) -> int:
    from .ui import serve

    serve(host=args.host, port=args.port, index_dir=args.index, corpus_dir=args.corpus)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code (0 ok, 1 failed check, 2 error)."""
    argv = sys.argv[1:] if argv is None else argv
    # `eval` takes its own options (python -m inspect_qa.eval); pass them through untouched.
    lead = [a for a in argv[:2] if a in ("-v", "--verbose")]
    if argv[len(lead) : len(lead) + 1] == ["eval"]:
        from .eval import main as eval_main

        return eval_main(argv[len(lead) + 1 :] + (["-v"] if lead else []), prog="inspect-qa eval")
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    handlers: dict[str, Any] = {"index": _cmd_index, "ask": _cmd_query, "search": _cmd_query,
                                "timeline": _cmd_timeline, "info": _cmd_info,
                                "check": _cmd_check, "serve": _cmd_serve,
                                "add": _cmd_add, "remove": _cmd_remove,
                                "optimize": _cmd_optimize}
    try:
        return int(handlers[args.command](args))
    except InspectQAError as exc:
        print(f"inspect-qa: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("inspect-qa: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`| head`): stop quietly, as Unix tools do.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(main())
