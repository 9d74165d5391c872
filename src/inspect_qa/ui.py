"""The question page: a Gradio ``Blocks`` app over one :class:`Retriever`, plus its JSON API.

``build_app(retriever)`` makes the page; ``serve()`` builds or updates the index, then serves it
(what ``python app.py`` and ``inspect-qa serve`` run). Two named endpoints, ``search`` and
``answer``, return the same dicts as ``Passage.to_dict()`` and ``Answer.to_dict()``.

Safety: loopback and no share link by default; nothing served from disk (``allowed_paths`` empty,
index and corpus folders blocked); every input checked here, on the server, whatever the browser
allowed; errors reach the user as one readable line (``gr.Error``), never a traceback; document
text is escaped when rendered (see :mod:`inspect_qa.ui_render`).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator, Sequence
from html import escape
from pathlib import Path
from typing import Any

import gradio as gr
from starlette.routing import Mount

from . import ui_render as render
from .answers import Answer
from .embedding import Embedder
from .errors import InspectQAError, InvalidQuery
from .inputs import DEFAULT_K, MODES, check_query
from .retriever import MAX_K, MAX_QUESTION_CHARS, Retriever
from .timeline import Timeline

log = logging.getLogger(__name__)

#: Requests that may wait in the queue; past this a request is refused with "queue is full".
QUEUE_MAX_SIZE = 32
#: Questions answered at once (each runs the embedding model on the CPU).
CONCURRENCY = 2

#: Example questions about the seed corpus, offered only when the index holds those documents.
SEED_EXAMPLES = (
    "What is the maximum number of families an early help worker should hold?",
    "How many cases do social workers in Dudley's court team carry?",
    "Who was the Ofsted Inspector on the February 2018 monitoring visit?",
    "What effect was high staff turnover starting to have?",
)
SEED_DOCUMENTS = frozenset({
    "000_f2ce1d9da8a51203.txt", "001_e455c22296b3b456.txt", "002_87759ed1007758fa.txt",
    "003_24d6193986422878.txt", "004_c317150f610727ac.txt",
})

@contextlib.contextmanager
def readable_errors() -> Iterator[None]:
    """Turn any failure into one readable line for the user; the server log keeps the details."""
    try:
        yield
    except gr.Error:
        raise
    except InspectQAError as exc:
        log.info("refused a request: %s", exc)
        # Gradio renders error messages as HTML: escape them, they may quote the input.
        raise gr.Error(escape(str(exc), quote=False), title="Cannot answer",
                       print_exception=False) from None
    except Exception:
        log.exception("unexpected error while answering")
        raise gr.Error("Something went wrong on the server while answering; its log has the "
                       "details.", title="Server error", print_exception=False) from None


# -- the page ----------------------------------------------------------------------------------


def _clicked(evt: gr.EventData, shown: int, what: str) -> int:
    """The index of the item a "Show in source" click names, checked against the ``shown``
    items (the browser sends it: it is checked like any input)."""
    data = evt._data
    i = data.get("index") if isinstance(data, dict) else None
    if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < shown:
        raise InvalidQuery(f"that {what} is no longer on the page: ask again")
    return i


def _examples(retriever: Retriever) -> list[str]:
    return list(SEED_EXAMPLES) if set(retriever.index.documents) >= SEED_DOCUMENTS else []


def build_app(retriever: Retriever, *, examples: Sequence[str] | None = None,
              queue_size: int = QUEUE_MAX_SIZE, concurrency: int = CONCURRENCY) -> gr.Blocks:
    """The question page over ``retriever`` (queue included); launch it with :func:`launch`.

    Args:
        retriever: an open retriever, shared by every request.
        examples: questions offered as examples; by default the seed corpus's, when it is indexed.
        queue_size: requests that may wait; more are refused cleanly.
        concurrency: requests answered at once.
    """
    from .ui_style import PASSAGES_JS, SOURCE_JS

    docs = retriever.index.documents
    manifest = retriever.index.manifest

    def search(question: str, k: int = DEFAULT_K, mode: str = "hybrid",
               sources: list[str] | None = None, date_from: str | None = None,
               date_to: str | None = None, kinds: list[str] | None = None,
               authorities: list[str] | None = None) -> list[dict[str, Any]]:
        """The k best passages for a question, best first (each as Passage.to_dict()).

        mode is hybrid, dense or lexical; sources restricts to some documents (names as in the
        Index tab); date_from/date_to are YYYY-MM-DD, YYYY-MM or YYYY, inclusive; kinds and
        authorities restrict to documents of those kinds or about those authorities.
        """
        with readable_errors():
            qy = check_query(retriever, question, k, mode, sources, date_from, date_to, kinds,
                             authorities)
            return [p.to_dict() for p in retriever.search(qy.question, qy.k, qy.mode,
                                                          filters=qy.filters)]

    def answer(question: str, k: int = DEFAULT_K, mode: str = "hybrid",
               sources: list[str] | None = None, date_from: str | None = None,
               date_to: str | None = None, kinds: list[str] | None = None,
               authorities: list[str] | None = None) -> dict[str, Any]:
        """The sentence that answers a question, with its cited passages (Answer.to_dict()).

        found is false when the documents do not answer it; passages then holds the closest.
        Takes the same arguments as search.
        """
        with readable_errors():
            qy = check_query(retriever, question, k, mode, sources, date_from, date_to, kinds,
                             authorities)
            return retriever.answer(qy.question, qy.k, qy.mode, filters=qy.filters).to_dict()

    def ask(question: Any, k: Any, mode: Any, sources: Any, date_from: Any, date_to: Any,
            kinds: Any, authorities: Any) -> tuple[str, str, str, Answer]:
        with readable_errors():
            qy = check_query(retriever, question, k, mode, sources, date_from, date_to, kinds,
                             authorities)
            t0 = time.perf_counter()
            a = retriever.answer(qy.question, qy.k, qy.mode, filters=qy.filters)
            seconds = time.perf_counter() - t0
            log.info("answered in %.3fs (found=%s): %r", seconds, a.found, qy.question[:80])
            shown = render.answer_passage(a) or 0
            if a.passages:
                p = a.passages[shown]
                source = render.source_view(docs[p.source], p, a, shown + 1)
            else:
                source = render.source_placeholder()
            card = render.answer_card(a, docs) + render.timing_line(seconds, qy.mode, qy.k,
                                                                   len(a.passages))
            return (card, render.passages_list(a, docs, shown if a.passages else None),
                    source, a)

    def timeline(topic: str, per_report: int = 2, sources: list[str] | None = None,
                 date_from: str | None = None, date_to: str | None = None,
                 kinds: list[str] | None = None,
                 authorities: list[str] | None = None) -> dict[str, Any]:
        """What each report says about a topic: its best per_report sentences (1-5), verbatim
        and cited, reports in date order (Timeline.to_dict()); reports that say nothing are
        left out."""
        with readable_errors():
            qy = check_query(retriever, topic, DEFAULT_K, "hybrid", sources, date_from, date_to,
                             kinds, authorities, topic=True)
            return retriever.timeline(qy.question, filters=qy.filters,
                                      per_report=per_report).to_dict()

    def across(topic: Any) -> tuple[str, str, Timeline]:
        with readable_errors():
            qy = check_query(retriever, topic, topic=True)
            tl = retriever.timeline(qy.question)
            source = (render.source_view(docs[tl.entries[0].source],
                                         render.entry_passage(tl.entries[0]))
                      if tl.entries else render.source_placeholder())
            return render.timeline_view(tl, docs), source, tl

    def show_entry(last: Timeline | None, evt: gr.EventData) -> tuple[str, str]:
        with readable_errors():
            if last is None:
                raise InvalidQuery("that sentence is no longer on the page: ask again")
            i = _clicked(evt, len(last.entries), "sentence")
            e = last.entries[i]
            return (render.source_view(docs[e.source], render.entry_passage(e), None, i + 1,
                                       chosen=True),
                    render.timeline_view(last, docs, i))

    def show(last: Answer | None, evt: gr.EventData) -> tuple[str, str]:
        with readable_errors():
            if last is None:
                raise InvalidQuery("that passage is no longer on the page: ask again")
            i = _clicked(evt, len(last.passages), "passage")
            p = last.passages[i]
            return (render.source_view(docs[p.source], p, last, i + 1, chosen=True),
                    render.passages_list(last, docs, i))

    with gr.Blocks(title="inspect-qa", analytics_enabled=False) as demo:
        gr.HTML(render.header(manifest), js_on_load=None)
        with gr.Tabs():
            with gr.Tab("Ask", id="ask"):
                with gr.Row(equal_height=True):
                    question = gr.Textbox(
                        show_label=False, placeholder="Ask a question of the reports…",
                        max_length=MAX_QUESTION_CHARS, lines=1, max_lines=4, scale=8,
                        autofocus=True, elem_id="iqa-question")
                    ask_button = gr.Button("Ask", variant="primary", scale=1, min_width=100,
                                           elem_id="iqa-ask")
                examples_list = list(examples) if examples is not None else _examples(retriever)
                ex = (gr.Examples([[q] for q in examples_list], inputs=[question], label="Examples",
                                  api_visibility="private", examples_per_page=8)
                      if examples_list else None)
                with gr.Accordion("Filters and settings", open=False):
                    with gr.Row():
                        sources = gr.Dropdown(
                            choices=[(f"{d.title} ({d.date or 'undated'})", d.id)
                                     for d in docs.info.values()],
                            value=[], multiselect=True, label="Documents",
                            info="Search only these (all when empty)", scale=3)
                        date_from = gr.Textbox(label="From", placeholder="YYYY-MM-DD",
                                               max_length=10, scale=1)
                        date_to = gr.Textbox(label="To", placeholder="YYYY-MM-DD",
                                             max_length=10, scale=1)
                    with gr.Row():
                        kinds = gr.Dropdown(
                            choices=sorted({str(d.metadata["kind"]) for d in docs.info.values()
                                            if d.metadata.get("kind")}),
                            value=[], multiselect=True, label="Kinds",
                            info="Only these kinds of document (all when empty)",
                            elem_id="iqa-kinds")
                        authorities = gr.Dropdown(
                            choices=sorted({str(d.metadata["authority"]) for d in docs.info.values()
                                            if d.metadata.get("authority")}),
                            value=[], multiselect=True, label="Authorities",
                            info="Only documents about these (all when empty)",
                            elem_id="iqa-authorities")
                    with gr.Row():
                        k = gr.Slider(1, MAX_K, value=DEFAULT_K, step=1, precision=0,
                                      label="Passages", info="how many passages to cite")
                        mode = gr.Radio(list(MODES), value="hybrid", label="Mode",
                                        info="dense: meaning · lexical: words · hybrid: both")
                with gr.Row():
                    with gr.Column(scale=5):
                        answer_html = gr.HTML(js_on_load=None, elem_id="iqa-answer")
                        passages = gr.HTML(js_on_load=PASSAGES_JS, elem_id="iqa-passages")
                    with gr.Column(scale=6, elem_id="iqa-right"):
                        source = gr.HTML(render.source_placeholder(), js_on_load=SOURCE_JS,
                                         elem_id="iqa-source")
            with gr.Tab("Timeline", id="timeline"):
                with gr.Row(equal_height=True):
                    topic = gr.Textbox(
                        show_label=False, placeholder="A topic to follow across the reports, "
                        "e.g. caseloads…", max_length=MAX_QUESTION_CHARS, lines=1, scale=8,
                        elem_id="iqa-topic")
                    topic_button = gr.Button("Follow", variant="primary", scale=1,
                                             min_width=100, elem_id="iqa-follow")
                with gr.Row():
                    with gr.Column(scale=5):
                        timeline_html = gr.HTML(js_on_load=PASSAGES_JS, elem_id="iqa-timeline")
                    with gr.Column(scale=6):
                        timeline_source = gr.HTML(render.source_placeholder(),
                                                  js_on_load=SOURCE_JS,
                                                  elem_id="iqa-timeline-source")
            with gr.Tab("Index", id="index"):
                gr.HTML(render.index_table(manifest), js_on_load=None, elem_id="iqa-index")
        last = gr.State(None)
        last_timeline = gr.State(None)
        gr.on([topic_button.click, topic.submit], across, [topic],
              [timeline_html, timeline_source, last_timeline], api_visibility="private",
              show_progress="minimal")
        timeline_html.show(show_entry, [last_timeline], [timeline_source, timeline_html],
                           api_visibility="private", show_progress="hidden")

        inputs = [question, k, mode, sources, date_from, date_to, kinds, authorities]
        outputs = [answer_html, passages, source, last]
        gr.on([ask_button.click, question.submit], ask, inputs, outputs,
              api_visibility="private", show_progress="minimal")
        if ex is not None:
            ex.load_input_event.then(ask, inputs, outputs, api_visibility="private",
                                     show_progress="minimal")
        passages.show(show, [last], [source, passages], api_visibility="private",
                      show_progress="hidden")
        gr.api(search, api_name="search")
        gr.api(answer, api_name="answer")
        gr.api(timeline, api_name="timeline")
    demo.queue(max_size=queue_size, default_concurrency_limit=concurrency, api_open=False)
    return demo


# -- serving -----------------------------------------------------------------------------------


def open_retriever(index_dir: str | Path = "index", corpus_dir: str | Path = "seeds",
                   embedder: Embedder | None = None) -> Retriever:
    """Build or update the index of ``corpus_dir`` (a no-op when nothing changed), then open it.

    Without a corpus folder the existing index is served as it is.
    """
    if Path(corpus_dir).is_dir():
        log.info("checking index %s against %s (built on first run or when documents change)",
                 index_dir, corpus_dir)
        t0 = time.perf_counter()
        r = Retriever.build(corpus_dir, index_dir, embedder=embedder, progress=True)
        log.info("index ready in %.1fs: %d documents, %d chunks", time.perf_counter() - t0,
                 len(r.index.documents), len(r.index.live_rows))
        return r
    log.warning("no corpus folder %s: serving index %s as it is", corpus_dir, index_dir)
    return Retriever.load(index_dir, embedder=embedder)


def launch(demo: gr.Blocks, host: str = "127.0.0.1", port: int = 7860, *, block: bool = True,
           blocked_paths: Sequence[str | Path] = (), quiet: bool = False,
           api: Any = None) -> str:
    """Serve ``demo`` (and the JSON API app ``api`` at ``/api``, when given); returns its local
    URL (when ``block`` is False; else runs until stopped)."""
    from .ui_style import CSS, theme

    if host not in ("127.0.0.1", "localhost", "::1"):
        log.warning("serving on %s: anyone who can reach this address can query the documents",
                    host)
    # Gradio's own routes live under /gradio_api; /api is free for the JSON API. It is one of
    # the app's routes from its creation: mounted after launch, it answered 404 to a request
    # that came as soon as the page did.
    app_kwargs = {"routes": [Mount("/api", app=api)]} if api is not None else None
    try:
        _, url, _ = demo.launch(
            server_name=host, server_port=port, share=False, inbrowser=False,
            prevent_thread_lock=True, quiet=True, show_error=False,
            allowed_paths=[], blocked_paths=[str(Path(p).resolve()) for p in blocked_paths],
            max_file_size="1kb", footer_links=["api"], enable_monitoring=False,
            run_history=False, mcp_server=False, ssr_mode=False, theme=theme(), css=CSS,
            app_kwargs=app_kwargs,
        )
    except OSError as exc:
        raise InspectQAError(f"cannot serve on {host}:{port} ({exc.strerror or exc}): "
                             "pass another --port") from exc
    if not quiet:  # Gradio's own lines suggest share=True, which this page never uses
        api_line = f"; the JSON API at {str(url).rstrip('/')}/api" if api is not None else ""
        print(f"Serving the question page on {url}{api_line} (Ctrl+C stops it)", flush=True)
    if demo.allowed_paths:
        # An empty list lets GRADIO_ALLOWED_PATHS in; Gradio reads this list on every request.
        log.warning("ignoring GRADIO_ALLOWED_PATHS: the page serves no files from disk")
        demo.allowed_paths = []
    if block:
        demo.block_thread()
    return str(url)


def serve(host: str = "127.0.0.1", port: int = 7860, index_dir: str | Path = "index",
          corpus_dir: str | Path = "seeds", embedder: Embedder | None = None, *,
          block: bool = True) -> gr.Blocks:
    """Build or update the index, then serve the page and the JSON API (``/api``) on
    ``host:port`` (loopback by default)."""
    from .api import build_api

    retriever = open_retriever(index_dir, corpus_dir, embedder)
    demo = build_app(retriever)
    launch(demo, host, port, block=block, blocked_paths=(index_dir, corpus_dir),
           api=build_api(retriever))
    return demo
