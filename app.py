"""Serve the inspect-qa question page: ``python app.py`` (then open http://127.0.0.1:7860).

On first run, or when a report in ``seeds/`` changed, the index in ``./index`` is built or updated
first (progress shows in the terminal); it is then loaded once and shared by every request.
Same as ``inspect-qa serve [--host] [--port] [--index] [--corpus]``.
"""

from __future__ import annotations

import argparse
import logging
import sys

from inspect_qa.errors import InspectQAError


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Serve the inspect-qa question page.")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback)")
    p.add_argument("--port", type=int, default=7860)
    p.add_argument("--index", default="index", help="index directory (default: index)")
    p.add_argument("--corpus", default="seeds", help="folder of reports (default: seeds)")
    args = p.parse_args(argv)
    # our progress for people; from libraries (the model loader, the HTTP client) warnings only
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("inspect_qa").setLevel(logging.INFO)
    from inspect_qa.ui import serve

    try:
        serve(host=args.host, port=args.port, index_dir=args.index, corpus_dir=args.corpus)
    except InspectQAError as exc:
        print(f"inspect-qa: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
