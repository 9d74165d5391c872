"""Real formats against the text: the seed reports as PDFs, Word files, web pages and
Chromium-printed web pages, read by inspect-qa's readers.

Measures, for the note and the README:
  1. time per page of the PDF extractors (PDFium through pypdfium2, as inspect-qa reads;
     pypdf; pdfminer.six), per document for Word (python-docx) and web pages (trafilatura);
  2. word fidelity: how much of each seed's word sequence comes back, in order;
  3. page accuracy: each PDF passage's page against the page poppler's ``pdftotext`` finds
     its first words on;
  4. retrieval and answers on each converted corpus against the text corpus, with the real
     model, on eval/gold.jsonl and eval/holdout.jsonl (sources renamed to the converted files;
     a question whose quote the conversion cannot hold is left out and counted).

    python benchmarks/formats.py [--quick] [--out DIR]

``--quick`` skips the retrieval part (the model). Needs poppler-utils and chromium.
"""

from __future__ import annotations

import argparse
import difflib
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests import docmaker as dm  # noqa: E402

SEEDS = ROOT / "seeds"


def convert(out: Path) -> dict[str, Path]:
    """The seeds in every format, one folder each, same stems."""
    folders = {}
    for fmt in ("pdf", "docx", "html", "chrome-pdf"):
        folders[fmt] = out / fmt
        folders[fmt].mkdir(parents=True, exist_ok=True)
    for seed in sorted(SEEDS.glob("*.txt")):
        text = seed.read_text(encoding="utf-8")
        dm.make_pdf(text, folders["pdf"] / f"{seed.stem}.pdf", title=f"Report {seed.stem[:3]}")
        dm.make_docx(text, folders["docx"] / f"{seed.stem}.docx", page_every=8)
        dm.make_html(text, folders["html"] / f"{seed.stem}.html", title="Ofsted report")
        dm.chromium_print(folders["html"] / f"{seed.stem}.html",
                          folders["chrome-pdf"] / f"{seed.stem}.pdf")
    return folders


def time_per_page(pdfs: list[Path], runs: int = 3) -> dict[str, float]:
    """Milliseconds per page of each extractor over ``pdfs`` (best of ``runs``)."""
    import pypdfium2 as pdfium
    from pdfminer.high_level import extract_text as pdfminer_text
    from pypdf import PdfReader

    from inspect_qa.readers.pdf import read_pdf

    pages = sum(dm.pdf_page_count(p) for p in pdfs)

    def pdfium_raw() -> None:
        for p in pdfs:
            doc = pdfium.PdfDocument(str(p))
            for page in doc:
                page.get_textpage().get_text_range()
            doc.close()

    def inspect_qa() -> None:
        for p in pdfs:
            read_pdf(p)

    def pypdf() -> None:
        for p in pdfs:
            for page in PdfReader(str(p)).pages:
                page.extract_text()

    def pdfminer() -> None:
        for p in pdfs:
            pdfminer_text(str(p))

    out = {}
    for name, fn in (("pypdfium2 text only", pdfium_raw),
                     ("inspect-qa reader (pypdfium2 + boxes + repair)", inspect_qa),
                     ("pypdf extract_text", pypdf), ("pdfminer.six extract_text", pdfminer)):
        best = float("inf")
        for _ in range(runs):
            t0 = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - t0)
        out[name] = round(1000 * best / pages, 2)
    out["pages"] = pages
    return out


def time_per_document(files: list[Path], runs: int = 3) -> float:
    from inspect_qa.documents import read_document

    best = float("inf")
    for _ in range(runs):
        t0 = time.perf_counter()
        for f in files:
            read_document(f, f.name)
        best = min(best, time.perf_counter() - t0)
    return round(1000 * best / len(files), 2)


def fidelity(folder: Path) -> dict[str, float]:
    from inspect_qa.documents import read_document

    out = {}
    for f in sorted(folder.iterdir()):
        seed = (SEEDS / f"{f.stem}.txt").read_text(encoding="utf-8")
        got = read_document(f, f.name).text
        out[f.name] = round(difflib.SequenceMatcher(
            None, dm.words(seed), dm.words(got), autojunk=False).ratio(), 4)
    return out


def page_accuracy(folder: Path) -> dict[str, float | int]:
    """Share of chunks that poppler shows on the pages they are cited to: their first 40 letters
    on ``page``, their last 40 (before the last word, which may be finished from the next page)
    on ``page_end``. Also how many chunks start with letters poppler shows on an earlier page too (a
    heading that the contents page repeats): a first-occurrence check would miscount those."""
    from inspect_qa.chunking import ChunkSettings, make_chunks
    from inspect_qa.documents import read_document
    from inspect_qa.embedding import load_embedder

    emb = load_embedder()
    right = total = earlier = 0
    for f in sorted(folder.glob("*.pdf")):
        doc = read_document(f, f.name)
        pages = [dm.letters(dm.pdftotext_page(f, n)) for n in range(1, doc.metadata["pages"] + 1)]
        for c in make_chunks(doc, emb.count_tokens, ChunkSettings()):
            raw = doc.text[c.start : c.end]
            first, last = dm.letters(raw.split("\f")[0]), dm.letters(raw.split("\f")[-1])
            head, tail = first[:40], (last[-52:-12] if len(last) > 24 else "")
            total += 1
            on_page = (c.page is not None and c.page_end is not None
                       and head in pages[c.page - 1] and tail in pages[c.page_end - 1])
            right += on_page
            earlier += any(head in text for text in pages[: (c.page or 1) - 1])
    return {"chunks": total, "right": right, "accuracy": round(right / total, 4),
            "also_on_an_earlier_page": earlier}


def retrieval(folder: Path, suffix: str, work: Path) -> dict[str, dict[str, float | int]]:
    """Gold-set figures with an index of ``folder`` (sources renamed to ``suffix``)."""
    from inspect_qa.documents import read_corpus
    from inspect_qa.eval.cli import run_gold_eval
    from inspect_qa.eval.gold import contains_quote

    docs = {d.id: d.text for d in read_corpus(folder)}
    out = {}
    for gold in ("gold", "holdout"):
        kept, dropped = [], 0
        for line in (ROOT / "eval" / f"{gold}.jsonl").read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            item = json.loads(line)
            for ev in item["evidence"]:
                ev["source"] = ev["source"].removesuffix(".txt") + suffix
            if all(ev["source"] in docs and contains_quote(docs[ev["source"]], ev["quote"])
                   for ev in item["evidence"]):
                kept.append(item)
            else:
                dropped += 1
        path = work / f"{gold}-{folder.name}.jsonl"
        path.write_text("".join(json.dumps(i) + "\n" for i in kept), encoding="utf-8")
        args = argparse.Namespace(gold=str(path), corpus=str(folder),
                                  index=str(work / f"index-{folder.name}"), modes="hybrid",
                                  k=10, model=None)
        result = run_gold_eval(args)["modes"]["hybrid"]
        figures = {**result["metrics"], **result["answers"]}
        out[gold] = {"questions": len(kept), "left_out": dropped,
                     **{k: round(float(figures[k]), 4)
                        for k in ("hit@1", "hit@5", "mrr@10", "answer_accuracy")}}
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="skip retrieval (no model)")
    ap.add_argument("--out", default=None, help="keep the converted files here")
    args = ap.parse_args()
    work = Path(args.out or tempfile.mkdtemp(prefix="inspect-qa-formats-"))
    t0 = time.perf_counter()
    folders = convert(work)
    report: dict[str, object] = {"converted_in_s": round(time.perf_counter() - t0, 1)}
    pdfs = sorted(folders["pdf"].glob("*.pdf"))
    report["ms_per_page"] = time_per_page(pdfs)
    report["ms_per_page_chrome"] = time_per_page(sorted(folders["chrome-pdf"].glob("*.pdf")))
    report["ms_per_document"] = {
        "docx (python-docx)": time_per_document(sorted(folders["docx"].iterdir())),
        "html (trafilatura)": time_per_document(sorted(folders["html"].iterdir())),
    }
    report["word_fidelity"] = {fmt: fidelity(f) for fmt, f in folders.items()}
    report["word_fidelity_mean"] = {fmt: round(statistics.mean(v.values()), 4)
                                    for fmt, v in report["word_fidelity"].items()}  # type: ignore[union-attr]
    report["page_accuracy"] = {fmt: page_accuracy(folders[fmt]) for fmt in ("pdf", "chrome-pdf")}
    if not args.quick:
        text = work / "txt"
        text.mkdir(exist_ok=True)
        for seed in SEEDS.glob("*.txt"):
            (text / seed.name).write_text(seed.read_text(encoding="utf-8"), encoding="utf-8")
        report["retrieval"] = {"txt": retrieval(text, ".txt", work)}
        for fmt, suffix in (("pdf", ".pdf"), ("docx", ".docx"), ("html", ".html"),
                            ("chrome-pdf", ".pdf")):
            report["retrieval"][fmt] = retrieval(folders[fmt], suffix, work)  # type: ignore[index]
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
