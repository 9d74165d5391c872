"""The PDF reader's own process: a fresh interpreter that reads PDFs one at a time, under a
memory limit, so that a malformed or hostile file (a "PDF bomb") costs that process and never
the build.

It is started with :mod:`subprocess`, not :mod:`multiprocessing`: a "spawn" or "forkserver"
worker runs the parent's ``__main__`` script again, so a user's script without an
``if __name__ == "__main__":`` guard ran its build twice, and its PDFs were skipped as crashes.
"""

from __future__ import annotations

import atexit
import math
import socket
import subprocess
import sys
import threading
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

#: Run by the worker's interpreter: the parent's import path first, then :func:`serve`.
_BOOT = ("import sys; sys.path[:0] = sys.argv[4:]; from inspect_qa.readers.worker import serve; "
         "serve(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]))")
#: Seconds past the parent's timeout after which a worker still reading one file kills itself.
ALARM_MARGIN_S = 5


class WorkerCrashed(Exception):
    """The worker died before it answered (out of memory, or killed)."""


class PdfWorker:
    """One worker process; :meth:`read` is :func:`.pdf.read_pdf` in it, one call at a time."""

    def __init__(self, megabytes: int, seconds: float):
        ours, theirs = socket.socketpair()
        try:
            with theirs:
                # the worker kills itself past ``seconds`` (and a margin) on one file, even
                # inside native code, so that it cannot outlive a parent killed meanwhile
                self._proc = subprocess.Popen(
                    [sys.executable, "-c", _BOOT, str(theirs.fileno()), str(megabytes),
                     str(math.ceil(seconds) + ALARM_MARGIN_S), *sys.path],
                    pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL, close_fds=True)
        except BaseException:
            ours.close()
            raise
        self._conn = Connection(ours.detach())
        self._lock = threading.Lock()
        atexit.register(self.close)

    @property
    def alive(self) -> bool:
        return self._proc.poll() is None

    def read(self, path: Path, seconds: float) -> Any:
        """The worker's ``read_pdf(path)``; its exception is raised here. :class:`TimeoutError`
        past ``seconds``, :class:`WorkerCrashed` when it died (either way, close this worker)."""
        with self._lock:
            try:
                self._conn.send(str(path))
                answered = self._conn.poll(seconds)
                ok, value = self._conn.recv() if answered else (True, None)
            except (EOFError, OSError) as exc:
                raise WorkerCrashed(str(exc)) from exc
        if not answered:
            raise TimeoutError(f"no answer in {seconds:.0f} s")
        if not ok:
            raise value if isinstance(value, BaseException) else RuntimeError(repr(value))
        return value

    def close(self) -> None:
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.wait()
        with self._lock:
            self._conn.close()
        atexit.unregister(self.close)


def serve(fd: int, megabytes: int, seconds: int) -> None:
    """The worker's loop: a path in, ``(True, result)`` or ``(False, exception)`` out, until
    the parent closes its end; at most ``megabytes`` of memory, ``seconds`` a file."""
    import resource
    import signal

    # No PR_SET_PDEATHSIG: it fires when the parent's *thread* that started the worker ends,
    # which a server's thread pool does while another thread is still reading. An orphan ends
    # at its next read (the socket's end-of-file) or at the alarm below.
    limit = megabytes * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    from .pdf import read_pdf

    conn = Connection(fd)
    while True:
        try:
            path = conn.recv()
        except EOFError:
            return
        signal.alarm(seconds)  # SIGALRM's default action ends the process, even in native code
        try:
            answer: tuple[bool, Any] = (True, read_pdf(Path(path)))
        except Exception as exc:  # MemoryError included: the parent gives the reason
            answer = (False, exc)
        signal.alarm(0)
        try:
            conn.send(answer)
        except MemoryError:
            conn.send((False, MemoryError()))
        except Exception:  # the reader's exception could not be pickled: send its words
            failed = answer[1]
            conn.send((False, RuntimeError(f"{type(failed).__name__}: {failed}")))
