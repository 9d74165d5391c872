"""The question page in a real browser: Debian's headless Chromium driven by Playwright.

Playwright cannot download its own browser here, so the system ``chromium`` is used through
``executable_path``. Without it these tests fail under CI (``CI=true``) and are skipped elsewhere.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from inspect_qa import HashingEmbedder, Retriever, ui

from .test_ui import free_port, make_corpus

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore:::gradio.queueing")]

CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
FILLER = ("Paragraph {n}. Staff described routine matters of office administration, building "
          "maintenance and the timetable for the canteen refurbishment.\n\n")
LONG = (
    "Longford annual review\n\n" + "".join(FILLER.format(n=n) for n in range(150))
    + "Fostering\n\nThe fostering panel in Longford approves new carers within 90 days of "
    "their application.\n\n" + "".join(FILLER.format(n=n) for n in range(150, 170))
)
QUESTION = "How quickly does the fostering panel in Longford approve new carers?"
ANSWER = ("The fostering panel in Longford approves new carers within 90 days of their "
          "application.")
TIMEOUT = 20_000  # ms


def chromium() -> str:
    path = shutil.which("chromium") or ("/usr/bin/chromium"
                                        if os.path.exists("/usr/bin/chromium") else None)
    if path is None:
        msg = "Debian's chromium is not installed: run `apt-get install -y chromium`"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(msg)
        pytest.skip(msg)
    return path


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    path = chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Retriever]]:
    root = tmp_path_factory.mktemp("browser")
    corpus = make_corpus(root)
    (corpus / "long.txt").write_text(LONG, encoding="utf-8")
    r = ui.open_retriever(root / "index", corpus, HashingEmbedder())
    demo = ui.build_app(r, examples=[QUESTION])
    url = ui.launch(demo, "127.0.0.1", free_port(), block=False, quiet=True)
    yield url, r
    demo.close()


@pytest.fixture
def page(browser: Any, app: tuple[str, Retriever]) -> Iterator[Any]:
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = ctx.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.goto(app[0])
    yield pg
    ctx.close()
    assert not errors, f"script errors on the page: {errors}"


def ask(page: Any, question: str, *, enter: bool = False) -> None:
    box = page.locator("#iqa-question textarea")
    box.fill(question)
    if enter:
        box.press("Enter")
    else:
        page.locator("#iqa-ask").click()


def test_ask_shows_answer_citations_and_highlighted_source(
    page: Any, app: tuple[str, Retriever], tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    a = app[1].answer(QUESTION)
    assert a.found and a.source == "long.txt" and a.passage_index is not None
    ask(page, QUESTION)

    card = page.get_by_test_id("answer-card")
    expect(card).to_be_visible(timeout=TIMEOUT)
    expect(card.locator("mark.iqa-ans")).to_have_text(ANSWER)
    expect(card).to_contain_text(f"long.txt:{a.start}-{a.end}")
    expect(card).to_contain_text(f"confidence {a.confidence:.0%}")
    expect(page.get_by_test_id("timing")).to_contain_text(" s · hybrid")

    best = page.get_by_test_id("citation").first
    expect(best).to_be_visible()
    p = a.passages[0]
    expect(best).to_contain_text(f"{p.source}:{p.start}-{p.end}")
    expect(page.get_by_test_id("citation")).to_have_count(len(a.passages))

    # The source view holds the whole (long) document, scrolled so the cited span is in view.
    source = page.get_by_test_id("source-view")
    shown = a.passages[a.passage_index]
    expect(source).to_contain_text(f"long.txt:{shown.start}-{shown.end}")
    span = source.locator("mark.iqa-span").first
    expect(span).to_be_in_viewport(timeout=TIMEOUT)
    expect(source.locator("mark.iqa-ans")).to_have_text(ANSWER)
    assert page.locator(".iqa-doc").evaluate("el => el.scrollTop") > 0
    expect(source).to_contain_text("Paragraph 0.")  # the whole document, not only the passage

    shot = tmp_path / "page.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    print(f"screenshot: {shot}")


def test_enter_asks_and_show_in_source_switches_document(page: Any) -> None:
    from playwright.sync_api import expect

    ask(page, "caseloads for social workers in the assessment team", enter=True)
    cards = page.get_by_test_id("citation")
    expect(cards.first).to_be_visible(timeout=TIMEOUT)
    second = cards.nth(1)
    cite = second.locator("code.iqa-cite").inner_text()
    second.get_by_role("button", name="Show in source").click()
    source = page.get_by_test_id("source-view")
    expect(source).to_contain_text("Source of passage 2", timeout=TIMEOUT)
    expect(source.locator(".iqa-kicker code")).to_have_text(cite)
    expect(source.locator("mark.iqa-span").first).to_be_in_viewport(timeout=TIMEOUT)
    expect(second).to_have_class("iqa-passage-card iqa-selected")


def test_report_markup_shows_as_text(page: Any) -> None:
    from playwright.sync_api import expect

    ask(page, "What did the inspectors find in the records?")
    card = page.get_by_test_id("citation").filter(has_text="evil.txt")
    expect(card.first).to_be_visible(timeout=TIMEOUT)
    expect(card.first).to_contain_text(
        '<script>window.__pwned = 1</script> and <img src=x onerror="window.__pwned = 2">')
    card.first.get_by_role("button", name="Show in source").click()
    source = page.get_by_test_id("source-view")
    expect(source).to_contain_text("**Bold claims** and ${1+1} and {{value}}", timeout=TIMEOUT)
    expect(source).to_contain_text("[a link](http://example.com)")
    assert page.evaluate("window.__pwned") is None
    for where in ("#iqa-passages", "#iqa-source", "#iqa-answer"):
        assert page.locator(f"{where} img, {where} script, {where} a, {where} strong").count() == 0


def test_bad_input_shows_a_readable_error(page: Any) -> None:
    from playwright.sync_api import expect

    page.locator("#iqa-ask").click()
    expect(page.get_by_text("the question is empty: type a question")).to_be_visible(
        timeout=TIMEOUT)
    page.get_by_text("Filters and settings").click()
    page.get_by_label("From").fill("2019-13-45")
    ask(page, "children")
    expect(page.get_by_text("is not a date in the calendar")).to_be_visible(timeout=TIMEOUT)
    assert "Traceback" not in page.content()


def test_example_question_is_asked_on_click(page: Any) -> None:
    from playwright.sync_api import expect

    page.get_by_text(QUESTION[:30]).first.click()  # long examples are shown shortened
    expect(page.get_by_test_id("answer-card").locator("mark.iqa-ans")).to_have_text(
        ANSWER, timeout=TIMEOUT)


def test_index_tab_lists_documents(page: Any, app: tuple[str, Retriever]) -> None:
    from playwright.sync_api import expect

    page.get_by_role("tab", name="Index").click()
    table = page.locator("#iqa-index table")
    expect(table).to_be_visible(timeout=TIMEOUT)
    for doc_id, d in app[1].index.manifest["documents"].items():
        expect(table).to_contain_text(doc_id)
        expect(table.locator("tr", has_text=doc_id)).to_contain_text(str(d["chunks"]))
    expect(page.locator("#iqa-index")).to_contain_text("hashing-256")


@pytest.mark.parametrize(("ci", "outcome"), [("true", pytest.fail.Exception),
                                             ("", pytest.skip.Exception)])
def test_missing_chromium_fails_under_ci_and_skips_elsewhere(
    monkeypatch: pytest.MonkeyPatch, ci: str, outcome: type[BaseException]
) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setattr(os.path, "exists", lambda path: False)
    monkeypatch.setenv("CI", ci)
    with pytest.raises(outcome, match="apt-get install -y chromium"):
        chromium()


def test_timeline_tab_follows_a_topic_and_opens_each_sentence(
        page: Any, app: tuple[str, Retriever]) -> None:
    from playwright.sync_api import expect

    tl = app[1].timeline("caseloads")
    assert tl.entries, "the test corpus must say something about caseloads"
    page.get_by_role("tab", name="Timeline").click()
    page.locator("#iqa-topic textarea").fill("caseloads")
    page.locator("#iqa-follow").click()
    view = page.get_by_test_id("timeline")
    expect(view).to_be_visible(timeout=TIMEOUT)
    expect(page.get_by_test_id("timeline-report")).to_have_count(len(tl.sources))
    entries = page.get_by_test_id("timeline-entry")
    expect(entries).to_have_count(len(tl.entries))
    expect(entries.first.locator("mark.iqa-qw").first).to_have_text(
        re.compile("caseloads", re.I))
    last = tl.entries[-1]
    entries.last.get_by_role("button", name="Show in source").click()
    source = page.locator("#iqa-timeline-source").get_by_test_id("source-view")
    expect(source.locator(".iqa-kicker code")).to_have_text(
        f"{last.source}:{last.start}-{last.end}", timeout=TIMEOUT)
    expect(source.locator("mark.iqa-span").first).to_be_in_viewport(timeout=TIMEOUT)


@pytest.fixture(scope="module")
def pdf_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Retriever]]:
    from . import docmaker

    root = tmp_path_factory.mktemp("browser-pdf")
    corpus = root / "corpus"
    corpus.mkdir()
    docmaker.make_pdf(LONG, corpus / "longford.pdf", title="Longford annual review")
    r = ui.open_retriever(root / "index", corpus, HashingEmbedder())
    demo = ui.build_app(r, examples=[QUESTION])
    url = ui.launch(demo, "127.0.0.1", free_port(), block=False, quiet=True)
    yield url, r
    demo.close()


def test_a_pdf_answer_shows_its_page_and_the_source_its_page_breaks(
        browser: Any, pdf_app: tuple[str, Retriever]) -> None:
    from playwright.sync_api import expect

    url, r = pdf_app
    a = r.answer(QUESTION)
    pages = r.index.documents["longford.pdf"].metadata["pages"]
    assert a.found and a.page is not None and a.page > 1 and pages >= 3
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = ctx.new_page()
    page.goto(url)
    ask(page, QUESTION)
    card = page.get_by_test_id("answer-card")
    expect(card).to_be_visible(timeout=TIMEOUT)
    held = a.passages[a.passage_index or 0]
    expect(card).to_contain_text(f"p.\u00a0{held.page}")
    source = page.get_by_test_id("source-view")
    expect(source.get_by_test_id("page-break")).to_have_count(pages - 1)
    expect(source).to_contain_text(f"page {pages}")
    # The filters offer the kinds and authorities the index holds.
    page.get_by_text("Filters and settings").click()
    expect(page.locator("#iqa-kinds")).to_be_visible()
    expect(page.locator("#iqa-authorities")).to_be_visible()
    ctx.close()
