"""A folder of real downloads: every format indexed, bad files skipped with their reason (or an
error with --strict), the previous index never damaged; adding and removing reports."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from inspect_qa import documents as documents_module
from inspect_qa.cli import main
from inspect_qa.documents import scan_corpus
from inspect_qa.errors import CorpusError, IndexNotFound, InvalidQuery
from inspect_qa.index import add_documents, build_index, remove_documents
from inspect_qa.retriever import Filters, Retriever
from inspect_qa.storage import current_version_dir, load_index

from . import docmaker as dm
from .conftest import SEEDS
from .test_readers import bad_files

FIXTURES = Path(__file__).parent / "fixtures" / "authorities"


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    """The seeds as a PDF, a Word file, a web page and two texts."""
    d = tmp_path / "mixed"
    d.mkdir()
    seeds = sorted(SEEDS.glob("*.txt"))
    dm.make_pdf(seeds[0].read_text(encoding="utf-8"), d / f"{seeds[0].stem}.pdf")
    dm.make_docx(seeds[2].read_text(encoding="utf-8"), d / f"{seeds[2].stem}.docx", page_every=5)
    dm.make_html(seeds[3].read_text(encoding="utf-8"), d / f"{seeds[3].stem}.html")
    shutil.copy(seeds[1], d)
    shutil.copy(FIXTURES / "01_kent_ilacs_inspection.txt", d)
    return d


def test_every_format_is_indexed_and_bad_files_are_listed(mixed: Path, tmp_path: Path,
                                                          embedder) -> None:
    expected = bad_files(mixed / "downloads")
    (mixed / "notes.doc").write_bytes(b"old Word")
    rep = build_index(mixed, tmp_path / "ix", embedder=embedder)
    assert sorted(rep.added) == sorted([
        "000_f2ce1d9da8a51203.pdf", "001_e455c22296b3b456.txt", "002_87759ed1007758fa.docx",
        "003_24d6193986422878.html", "01_kent_ilacs_inspection.txt"])
    reasons = dict(rep.skipped)
    assert sorted(reasons) == sorted(f"downloads/{n}" for n in expected)
    for name, word in expected.items():
        assert word in reasons[f"downloads/{name}"], (name, reasons[f"downloads/{name}"])
    assert rep.ignored == ((".doc", 1),)
    ix = load_index(tmp_path / "ix")
    pdf_chunks = [c for c in ix.chunks if c.doc_id.endswith(".pdf")]
    assert pdf_chunks and all(c.page is not None for c in pdf_chunks)
    assert {c.page for c in pdf_chunks} == {1, 2, 3}
    assert ix.documents["000_f2ce1d9da8a51203.pdf"].metadata["date"] == "2018-05-29"


def test_strict_build_fails_before_writing_and_the_old_index_survives(
        mixed: Path, tmp_path: Path, embedder) -> None:
    build_index(mixed, tmp_path / "ix", embedder=embedder)
    before = current_version_dir(tmp_path / "ix")
    (mixed / "new.txt").write_text("A new report about caseloads in the east. " * 20)
    (mixed / "broken.pdf").write_bytes(b"%PDF-1.4 broken")
    with pytest.raises(CorpusError, match=r"broken\.pdf: damaged"):
        build_index(mixed, tmp_path / "ix", embedder=embedder, strict=True)
    assert current_version_dir(tmp_path / "ix") == before
    assert "new.txt" not in load_index(tmp_path / "ix").documents
    # Without --strict the good file goes in and the bad one is listed.
    rep = build_index(mixed, tmp_path / "ix", embedder=embedder)
    assert rep.added == ("new.txt",) and [s for s, _ in rep.skipped] == ["broken.pdf"]


def test_a_folder_of_only_bad_files_is_an_error_naming_them(tmp_path: Path, embedder) -> None:
    bad_files(tmp_path / "bad")
    with pytest.raises(CorpusError, match=r"(?s)no documents with text.*encrypted\.pdf: encrypted"):
        build_index(tmp_path / "bad", tmp_path / "ix", embedder=embedder)
    with pytest.raises(IndexNotFound):
        load_index(tmp_path / "ix")


def test_symlinked_folder_loop_is_reported_once(tmp_path: Path) -> None:
    d = tmp_path / "c"
    (d / "sub").mkdir(parents=True)
    (d / "sub" / "a.txt").write_text("Caseloads are high. " * 10)
    (d / "sub" / "back").symlink_to(d, target_is_directory=True)
    scan = scan_corpus(d)
    assert [x.id for x in scan.documents] == ["sub/a.txt"]
    assert [(x.id, x.reason) for x in scan.skipped] == [
        ("sub/back", "a symlink loop: this folder was already read")]


def test_unchanged_files_are_not_read_again(mixed: Path, tmp_path: Path, embedder,
                                            monkeypatch) -> None:
    build_index(mixed, tmp_path / "ix", embedder=embedder)
    read: list[str] = []
    real = documents_module.read_document

    def counting(path: Path, doc_id: str, **kw: object) -> object:
        read.append(doc_id)
        return real(path, doc_id, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(documents_module, "read_document", counting)
    html = mixed / "003_24d6193986422878.html"
    html.write_text(html.read_text(encoding="utf-8").replace(
        "</article>", "<p>A paragraph added to the article since the last build.</p></article>"),
        encoding="utf-8")
    (mixed / "001_e455c22296b3b456.txt").unlink()
    rep = build_index(mixed, tmp_path / "ix", embedder=embedder)
    assert read == ["003_24d6193986422878.html"]
    assert rep.changed == ("003_24d6193986422878.html",)
    assert rep.removed == ("001_e455c22296b3b456.txt",)
    assert sorted(rep.unchanged) == ["000_f2ce1d9da8a51203.pdf", "002_87759ed1007758fa.docx",
                                     "01_kent_ilacs_inspection.txt"]


def test_add_and_remove(mixed: Path, tmp_path: Path, embedder) -> None:
    ix = tmp_path / "ix"
    build_index(mixed, ix, embedder=embedder)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    hackney = shutil.copy(FIXTURES / "02_hackney_focused_visit.txt", outside)
    (outside / "empty.txt").write_text("")
    rep = add_documents(ix, [hackney, outside / "empty.txt"], embedder=embedder)
    assert rep.added == ("02_hackney_focused_visit.txt",)
    assert rep.skipped == (("empty.txt", "empty file"),)
    assert len(rep.unchanged) == 5 and rep.embedded_chunks > 0
    # A file inside the corpus folder keeps its id there (an update, not a second copy).
    inside = mixed / "001_e455c22296b3b456.txt"
    inside.write_text(inside.read_text(encoding="utf-8") + "\nA closing line added.\n")
    rep = add_documents(ix, [inside], embedder=embedder)
    assert rep.changed == ("001_e455c22296b3b456.txt",) and not rep.added
    # Indexing the folder again keeps the report added from elsewhere.
    rep = build_index(mixed, ix, embedder=embedder)
    assert rep.kept == ("02_hackney_focused_visit.txt",) and not rep.removed
    r = Retriever.load(ix, embedder=embedder)
    hits = r.search("focused visit Hackney", filters=Filters(authorities=("Hackney",)))
    assert hits and {p.source for p in hits} == {"02_hackney_focused_visit.txt"}
    rep = remove_documents(ix, ["02_hackney_focused_visit.txt"], embedder=embedder)
    assert rep.removed == ("02_hackney_focused_visit.txt",)
    assert "02_hackney_focused_visit.txt" not in load_index(ix).documents
    with pytest.raises(CorpusError, match=r"did you mean 000_f2ce1d9da8a51203\.pdf"):
        remove_documents(ix, ["000_f2ce1d9da8a51203.pd"], embedder=embedder)
    with pytest.raises(CorpusError, match="every document"):
        remove_documents(ix, sorted(load_index(ix).documents), embedder=embedder)


def test_kind_and_authority_filters(mixed: Path, tmp_path: Path, embedder) -> None:
    build_index(mixed, tmp_path / "ix", embedder=embedder)
    r = Retriever.load(tmp_path / "ix", embedder=embedder)
    hits = r.search("caseloads", k=10, filters=Filters(kinds=("inspection report",)))
    assert hits and {p.source for p in hits} == {"01_kent_ilacs_inspection.txt"}
    hits = r.search("caseloads", k=10, filters=Filters(authorities=("dudley",)))
    assert hits and "01_kent_ilacs_inspection.txt" not in {p.source for p in hits}
    # The council's full name finds the reports that name only its place, and the reverse.
    from inspect_qa.filters import allowed_documents

    names = {d: r.index.documents[d].metadata.get("authority") for d in r.index.documents}
    full = next(a for a in names.values() if a and a.startswith("Dudley Metropolitan"))
    assert "Dudley" in names.values()  # the news item names only the place
    place = allowed_documents(Filters(authorities=("Dudley",)), r.index.documents)
    assert place == allowed_documents(Filters(authorities=(full,)), r.index.documents)
    assert place == {d for d, a in names.items() if a and a.startswith("Dudley")}
    with pytest.raises(InvalidQuery, match="Dudley County Council"):  # a name no report uses
        allowed_documents(Filters(authorities=("Dudley County Council",)), r.index.documents)
    both = r.search("caseloads", k=10, filters=Filters(kinds=("monitoring letter",),
                                                        authorities=("Kent",)))
    assert both == []
    with pytest.raises(InvalidQuery, match=r"choose from .*Kent"):
        r.search("caseloads", filters=Filters(authorities=("Narnia",)))
    with pytest.raises(InvalidQuery, match="no document has kind 'memo'"):
        r.answer("caseloads", filters=Filters(kinds=("memo",)))


def test_cli_index_add_remove_and_filters(mixed: Path, tmp_path: Path, capsys) -> None:
    ix = str(tmp_path / "ix")
    (mixed / "bad.pdf").write_bytes(b"not a pdf at all")
    assert main(["index", str(mixed), "--out", ix, "--model", "hashing-256"]) == 0
    out = capsys.readouterr().out
    assert "skipped      1" in out and "bad.pdf: not a PDF" in out
    assert main(["index", str(mixed), "--out", ix, "--strict"]) == 2
    assert "bad.pdf" in capsys.readouterr().err
    assert main(["add", str(FIXTURES / "05_torbay_news_item.txt"), "--index", ix]) == 0
    assert "added        1  05_torbay_news_item.txt" in capsys.readouterr().out
    assert main(["search", "children in care", "--index", ix, "--kind", "news item",
                 "--authority", "Torbay", "--json"]) == 0
    assert '"source": "05_torbay_news_item.txt"' in capsys.readouterr().out
    assert main(["remove", "05_torbay_news_item.txt", "--index", ix]) == 0
    assert "removed      1" in capsys.readouterr().out
    assert main(["ask", "caseloads", "--index", ix, "--authority", "Narnia"]) == 2
    assert "choose from" in capsys.readouterr().err
    # A passage from a PDF is cited to its page in the terminal too.
    assert main(["search", "early help family centre hubs", "--index", ix, "--source",
                 "000_f2ce1d9da8a51203.pdf", "-k", "3"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"\bpp?\. \d", out) and "000_f2ce1d9da8a51203.pdf:" in out



def test_added_reports_survive_a_rebuild_for_a_new_pipeline(mixed: Path, tmp_path: Path,
                                                             embedder, monkeypatch) -> None:
    ix = tmp_path / "ix"
    build_index(mixed, ix, embedder=embedder)
    hackney = shutil.copy(FIXTURES / "02_hackney_focused_visit.txt", tmp_path)
    add_documents(ix, [hackney], embedder=embedder)
    monkeypatch.setattr("inspect_qa.index.pipeline_fingerprint", lambda: "another-version")
    rep = build_index(mixed, ix, embedder=embedder)
    assert rep.kept == ("02_hackney_focused_visit.txt",)
    assert "02_hackney_focused_visit.txt" in load_index(ix).documents


def test_add_refuses_a_name_the_corpus_folder_already_uses(mixed: Path, tmp_path: Path,
                                                           embedder) -> None:
    ix = tmp_path / "ix"
    build_index(mixed, ix, embedder=embedder)
    other = tmp_path / "other"
    other.mkdir()
    clash = other / "001_e455c22296b3b456.txt"
    clash.write_text("A different report that happens to share the name. " * 5)
    before = current_version_dir(ix)
    with pytest.raises(CorpusError, match=r"already holds '001_e455c22296b3b456\.txt'"):
        add_documents(ix, [clash], embedder=embedder)
    assert current_version_dir(ix) == before


def test_a_hidden_file_added_from_the_folder_is_kept_by_the_next_index(
        mixed: Path, tmp_path: Path, embedder) -> None:
    ix = tmp_path / "ix"
    build_index(mixed, ix, embedder=embedder)
    (mixed / ".drafts").mkdir()
    draft = shutil.copy(FIXTURES / "05_torbay_news_item.txt", mixed / ".drafts")
    add_documents(ix, [draft], embedder=embedder)
    rep = build_index(mixed, ix, embedder=embedder)
    assert rep.kept == (".drafts/05_torbay_news_item.txt",) and not rep.removed


def test_a_file_that_became_unreadable_keeps_its_indexed_version(mixed: Path, tmp_path: Path,
                                                                 embedder) -> None:
    ix = tmp_path / "ix"
    build_index(mixed, ix, embedder=embedder)
    pdf = mixed / "000_f2ce1d9da8a51203.pdf"
    pdf.write_bytes(pdf.read_bytes()[:2000])  # a download cut short, over the good one
    rep = build_index(mixed, ix, embedder=embedder)
    assert not rep.removed
    assert dict(rep.skipped)["000_f2ce1d9da8a51203.pdf"].endswith(
        "(the version indexed before is kept)")
    assert "000_f2ce1d9da8a51203.pdf" not in rep.unchanged  # skipped, not read as it was
    assert rep.stale == ("000_f2ce1d9da8a51203.pdf",)
    assert "000_f2ce1d9da8a51203.pdf" in load_index(ix).documents


def test_a_resaved_file_with_the_same_text_is_not_read_again_next_time(
        mixed: Path, tmp_path: Path, embedder, monkeypatch) -> None:
    ix = tmp_path / "ix"
    build_index(mixed, ix, embedder=embedder)
    page = mixed / "003_24d6193986422878.html"
    page.write_text(page.read_text(encoding="utf-8") + "\n<!-- saved again -->\n",
                    encoding="utf-8")
    rep = build_index(mixed, ix, embedder=embedder)  # read once: bytes changed, text did not
    assert rep.embedded_chunks == 0
    read: list[str] = []
    real = documents_module.read_document
    monkeypatch.setattr(documents_module, "read_document",
                        lambda path, doc_id, **kw: read.append(doc_id) or real(path, doc_id, **kw))
    build_index(mixed, ix, embedder=embedder)
    assert read == []


def test_an_answer_from_a_pdf_has_its_page_and_an_abstention_has_none(
        mixed: Path, tmp_path: Path, embedder) -> None:
    build_index(mixed, tmp_path / "ix", embedder=embedder)
    r = Retriever.load(tmp_path / "ix", embedder=embedder)
    only_pdf = Filters(sources=("000_f2ce1d9da8a51203.pdf",))
    found = r.answer_candidate("early help family centre hubs", filters=only_pdf)
    assert found.found and found.page is not None and found.page >= 1
    for question in ("What is the capital of France?", "hello"):
        a = r.answer(question, filters=only_pdf)
        assert not a.found and a.source is None and a.page is None, question
