"""The PDF reader's own process: a fresh interpreter that reads PDFs one at a time, under a
memory limit, so that a malformed or hostile file (a "PDF bomb") costs that process and never
the build.

It is started with :mod:`subprocess`, not :mod:`multiprocessing`: a "spawn" or "forkserver"
worker runs the parent's ``__main__`` script again, so a user's script without an
``if __name__ == "__main__":`` guard ran its build twice, and its PDFs were skipped as crashes.
"""

from __future__ import annotations

import atexit
import socket
import subprocess
import sys
import threading
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

#: Run by the worker's interpreter: the parent's import path first, then :func:`serve`.
_BOOT = ("import sys; sys.path[:0] = sys.argv[3:]; "
         "from inspect_qa.readers.worker import serve; serve(int(sys.argv[1]), int(sys.argv[2]))")


class WorkerCrashed(Exception):
    """The worker died before it answered (out of memory, or killed)."""


class PdfWorker:
    """One worker process; :meth:`read` is :func:`.pdf.read_pdf` in it. Thread-safe."""

    def __init__(self, megabytes: int):
        ours, theirs = socket.socketpair()
        with theirs:
            self._proc = subprocess.Popen(
                [sys.executable, "-c", _BOOT, str(theirs.fileno()), str(megabytes), *sys.path],
                pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL, close_fds=True)
        self._conn = Connection(ours.detach())
        self._lock = threading.Lock()
        atexit.register(self.close)

    def read(self, path: Path, seconds: float) -> Any:
        """The worker's ``read_pdf(path)``; its exception is raised here. :class:`TimeoutError`
        past ``seconds``, :class:`WorkerCrashed` when it died (either way, close this worker)."""
        with self._lock:
            try:
                self._conn.send(str(path))
                if not self._conn.poll(seconds):
                    raise TimeoutError(f"no answer in {seconds:.0f} s")
                ok, value = self._conn.recv()
            except (EOFError, OSError) as exc:
                raise WorkerCrashed(str(exc)) from exc
        if not ok:
            raise value
        return value

    def close(self) -> None:
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.wait()
        self._conn.close()
        atexit.unregister(self.close)


def serve(fd: int, megabytes: int) -> None:
    """The worker's loop: a path in, ``(True, result)`` or ``(False, exception)`` out, until
    the parent closes its end."""
    import resource

    limit = megabytes * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    from .pdf import read_pdf

    conn = Connection(fd)
    while True:
        try:
            path = conn.recv()
        except EOFError:
            return
        try:
            answer: tuple[bool, Any] = (True, read_pdf(Path(path)))
        except Exception as exc:  # MemoryError included: the parent gives the reason
            answer = (False, exc)
        try:
            conn.send(answer)
        except Exception as exc:  # an exception that cannot be pickled
            conn.send((False, RuntimeError(f"{type(exc).__name__}: {exc}")))
