"""What reading a corpus costs in memory, with the texts held and with them spooled.

    .venv/bin/python benchmarks/scan_memory.py CORPUS hold|spool

``hold`` is ``scan_corpus`` as ``read_corpus`` uses it (every text in memory); ``spool`` is how
a build reads now (each text written to an ``index.Spool`` file, a handle kept). Run each mode
in its own process; prints the growth of the process's RSS over the scan.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    from inspect_qa.documents import scan_corpus
    from inspect_qa.index import Spool

    corpus, mode = Path(sys.argv[1]), sys.argv[2]
    before, t = _rss_mb(), time.perf_counter()
    if mode == "spool":
        with tempfile.TemporaryDirectory() as tmp, Spool(Path(tmp)) as spool:
            scan = scan_corpus(corpus, keep=spool.keep)
            after = _rss_mb()
            chars = sum(d.chars for d in scan.documents)
    else:
        scan = scan_corpus(corpus)
        after = _rss_mb()
        chars = sum(len(d.text) for d in scan.documents)
    print(f"{mode}: {len(scan.documents)} reports, {chars / 1e6:.1f} M characters, "
          f"RSS +{after - before:.0f} MB over the scan, {time.perf_counter() - t:.1f} s")


if __name__ == "__main__":
    main()
