"""The HTTP JSON API served beside the page: ``POST /api/search``, ``POST /api/answer``,
``POST /api/timeline``, ``GET /api/documents``, described at ``/api/openapi.json``.

Plain JSON over HTTP for any language, without the page's queue and event stream. Inputs are
checked exactly as the page checks them (:func:`inspect_qa.inputs.check_query`); a bad request gets
``400 {"error": "one line saying what to fix"}``, never a traceback, and responses name
documents by their id in the corpus, never by a path. The shapes are those of
``schemas/*.schema.json`` (the same as ``inspect-qa ask/search --json``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from . import __version__
from .errors import InspectQAError
from .inputs import check_query
from .passages import search_dict
from .retriever import MAX_K, MAX_QUESTION_CHARS, Retriever

log = logging.getLogger(__name__)

#: Requests answered at once: each runs the embedding model; on two cores, two at once gave
#: 61 answers a second against 48 for one (benchmarks/http_load.py, 20 clients, when requests
#: still waited in threads); the rest wait their turn on the event loop.
API_CONCURRENCY = 2
#: Largest request body read (a question is at most 1,000 characters; this leaves room for
#: escaping and a list of sources).
MAX_BODY_BYTES = 64 * 1024
#: Requests that may wait for their turn; past this a request gets 503 (as the page's queue
#: refuses past 32).
MAX_WAITING = 32


class ServerBusy(Exception):
    """More requests are waiting than :data:`MAX_WAITING`."""


class Query(BaseModel):
    """The arguments of ``Retriever.search`` / ``Retriever.answer``."""

    model_config = ConfigDict(extra="forbid", strict=True)  # "k": true or "5" is refused

    question: str = Field(description=f"the question, at most {MAX_QUESTION_CHARS} characters")
    k: int = Field(5, description=f"how many passages, 1 to {MAX_K}")
    mode: str = Field("hybrid", description="hybrid, dense or lexical")
    sources: list[str] | None = Field(None, description="document ids to search (all if null)")
    kinds: list[str] | None = Field(None, description='kinds of document, e.g. "monitoring letter" (all if null)')
    authorities: list[str] | None = Field(None, description='authorities, e.g. "Dudley" (all if null)')
    date_from: str | None = Field(None, description="inclusive start: YYYY, YYYY-MM or YYYY-MM-DD")
    date_to: str | None = Field(None, description="inclusive end: YYYY, YYYY-MM or YYYY-MM-DD")


class TimelineQuery(BaseModel):
    """The arguments of ``Retriever.timeline``."""

    model_config = ConfigDict(extra="forbid", strict=True)

    topic: str = Field(description=f"the topic, at most {MAX_QUESTION_CHARS} characters")
    per_report: int = Field(2, description="sentences per report, 1 to 5")
    sources: list[str] | None = Field(None, description="document ids (all if null)")
    kinds: list[str] | None = Field(None, description='kinds of document, e.g. "monitoring letter" (all if null)')
    authorities: list[str] | None = Field(None, description='authorities, e.g. "Dudley" (all if null)')
    date_from: str | None = Field(None, description="inclusive start: YYYY, YYYY-MM or YYYY-MM-DD")
    date_to: str | None = Field(None, description="inclusive end: YYYY, YYYY-MM or YYYY-MM-DD")


def documents_dict(retriever: Retriever) -> dict[str, Any]:
    """Every indexed document with its metadata and chunk count, by id (never a path)."""
    counts = retriever.index.manifest["documents"]
    docs = []
    for doc_id, doc in sorted(retriever.index.documents.info.items()):
        md = doc.metadata
        docs.append({"id": doc_id, "title": doc.title, "date": md.get("date"),
                     "kind": md.get("kind"), "authority": md.get("authority"),
                     "visit_number": md.get("visit_number"),
                     "inspectors": list(md.get("inspectors") or []),
                     "judgement": md.get("judgement"), "format": md.get("format"),
                     "pages": md.get("pages"), "chunks": counts.get(doc_id, {}).get("chunks", 0)})
    return {"documents": docs}


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _validation_message(exc: RequestValidationError) -> str:
    """Pydantic's errors as one line: ``k: Input should be a valid integer``."""
    parts = []
    for e in exc.errors()[:3]:
        where = ".".join(str(x) for x in e.get("loc", ()) if x != "body") or "body"
        msg = str(e.get("msg", "invalid"))
        if e.get("type") == "json_invalid":
            msg, where = "the body is not valid JSON", "body"
        elif tuple(e.get("loc", ())) == ("body",) and isinstance(e.get("input"), bytes):
            # a JSON body sent as another content type (curl -d sends a form's)
            msg = "send a JSON object with the header content-type: application/json"
        elif e.get("type") == "extra_forbidden":
            msg = "unknown field: see /api/openapi.json"
        parts.append(f"{where}: {msg}")
    return "; ".join(parts)


def build_api(retriever: Retriever, *, concurrency: int = API_CONCURRENCY) -> FastAPI:
    """The JSON API over ``retriever`` as a FastAPI app (mounted at ``/api`` by the server)."""

    # No /docs page: Swagger UI loads its scripts from a CDN, and everything here is offline.
    app = FastAPI(title="inspect-qa", version=__version__, docs_url=None,
                  redoc_url=None, openapi_url="/openapi.json",
                  description="Verbatim answers and cited passages from inspection reports.")
    # Requests wait here, not in threads: only `concurrency` worker threads ever run the model,
    # so twenty waiting clients do not hold twenty threads (and their allocator arenas).
    if concurrency < 1:
        raise ValueError(f"concurrency must be at least 1, not {concurrency}")
    gate = asyncio.Semaphore(concurrency)
    waiting = 0

    @app.middleware("http")
    async def _bounded(request: Request, call_next: Callable[[Request], Any]) -> Any:
        size = request.headers.get("content-length")
        if request.method == "POST" and size is None:
            # A chunked body could be any size: ask for its length up front.
            return _error(411, "send the request with a Content-Length header")
        if size is not None and not size.isdigit():
            return _error(400, "the Content-Length header is not a number")
        if size is not None and int(size) > MAX_BODY_BYTES:
            return _error(413, f"the request body is over {MAX_BODY_BYTES:,} bytes: send one "
                               "question at a time")
        return await call_next(request)

    @app.exception_handler(ServerBusy)
    async def _busy(_: Request, exc: ServerBusy) -> JSONResponse:
        return _error(503, str(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _error(exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return _error(400, _validation_message(exc))

    @app.exception_handler(InspectQAError)
    async def _refused(_: Request, exc: InspectQAError) -> JSONResponse:
        log.info("refused an API request: %s", exc)
        return _error(400, str(exc))

    @app.exception_handler(Exception)
    async def _failed(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error in the API", exc_info=exc)
        return _error(500, "something went wrong on the server; its log has the details")

    async def run(work: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        nonlocal waiting
        if waiting >= MAX_WAITING:
            raise ServerBusy(f"the server is busy ({MAX_WAITING} requests waiting): retry "
                             "shortly")
        waiting += 1
        try:
            await gate.acquire()
        finally:
            waiting -= 1
        try:
            return await run_in_threadpool(work)
        finally:
            gate.release()

    def checked(body: Query) -> Any:
        return check_query(retriever, body.question, body.k, body.mode, body.sources,
                           body.date_from, body.date_to, body.kinds, body.authorities)

    @app.post("/search", summary="The k best passages for a question, best first")
    async def search(body: Query) -> dict[str, Any]:
        q = checked(body)
        return await run(lambda: search_dict(q.question, retriever.search(
            q.question, q.k, q.mode, filters=q.filters)))

    @app.post("/answer", summary="The sentence that answers a question, or why not")
    async def answer(body: Query) -> dict[str, Any]:
        q = checked(body)
        return await run(lambda: retriever.answer(q.question, q.k, q.mode,
                                                  filters=q.filters).to_dict())

    @app.post("/timeline", summary="What each report says about a topic, in date order")
    async def timeline(body: TimelineQuery) -> dict[str, Any]:
        q = check_query(retriever, body.topic, 5, "hybrid", body.sources, body.date_from,
                        body.date_to, body.kinds, body.authorities, topic=True)
        return await run(lambda: retriever.timeline(q.question, filters=q.filters,
                                                    per_report=body.per_report).to_dict())

    @app.get("/documents", summary="The indexed documents and their metadata")
    def documents() -> dict[str, Any]:
        return documents_dict(retriever)

    return app
