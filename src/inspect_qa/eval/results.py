"""Saved results: provenance (versions, model, git commit, date), files, thresholds."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..errors import GoldSetError, InspectQAError
from .metrics import LATENCY_METRICS

_LIBRARIES = ("ranx", "bm25s", "sentence-transformers", "torch", "faiss-cpu", "numpy")


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(["git", *args], capture_output=True, text=True, timeout=10,
                              check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def environment(model: str, fingerprint: str) -> dict[str, Any]:
    """Where and with what a run was made (recorded in every results file)."""
    from importlib.metadata import PackageNotFoundError, version

    from .. import __version__

    libs = {}
    for name in _LIBRARIES:
        with contextlib.suppress(PackageNotFoundError):
            libs[name] = version(name)
    status = _git("status", "--porcelain", "--untracked-files=no")
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "package_version": __version__,
        "git_commit": _git("rev-parse", "HEAD"),
        "git_dirty": bool(status) if status is not None else None,
        "model": model,
        "model_fingerprint": fingerprint,
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        # Latency is only comparable between runs on an equally quiet machine.
        "load_average_1m": round(os.getloadavg()[0], 2),
        "libraries": libs,
    }


def stem(result: Mapping[str, Any], name: str) -> str:
    """``<name>-<date>-<commit>``: the file name (without suffix) a run is saved under."""
    env = result["environment"]
    stamp = env["date"].replace("-", "").replace(":", "").replace("+0000", "Z")[:15]
    commit = (env.get("git_commit") or "nogit")[:7]
    return f"{name}-{stamp}-{commit}"


def save(result: Mapping[str, Any], markdown: str, results_dir: str | Path, name: str
         ) -> tuple[Path, Path]:
    """Write ``<name>-<date>-<commit>.json`` and ``.md`` under ``results_dir``."""
    out = Path(results_dir)
    out.mkdir(parents=True, exist_ok=True)
    stem_ = stem(result, name)
    json_path, md_path = out / f"{stem_}.json", out / f"{stem_}.md"
    write_json(result, json_path)
    md_path.write_text(markdown, encoding="utf-8")
    return json_path, md_path


def write_json(result: Mapping[str, Any], path: str | Path) -> None:
    p = Path(path)
    if p.parent != Path():
        p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def read_json(path: str | Path) -> dict[str, Any]:
    """A results file written by :func:`save` or ``--json``."""
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InspectQAError(f"cannot read results file {p}: {exc.strerror or exc}") from exc
    except json.JSONDecodeError as exc:
        raise InspectQAError(f"{p}:{exc.lineno}: not a JSON results file ({exc.msg})") from exc
    if not isinstance(data, dict) or data.get("kind") not in ("gold", "beir"):
        raise InspectQAError(f"{p}: not an inspect-qa results file (no kind gold/beir)")
    return data


@dataclass(frozen=True)
class Threshold:
    """``--fail-under [MODE:]METRIC=VALUE``: every named (or every) mode must reach VALUE."""

    mode: str | None
    metric: str
    value: float

    @classmethod
    def parse(cls, text: str) -> Threshold:
        left, sep, right = text.partition("=")
        mode, _, metric = left.rpartition(":")
        try:
            value = float(right)
        except ValueError:
            value = float("nan")
        if not sep or not metric or value != value:
            raise GoldSetError(f"--fail-under {text!r}: write METRIC=VALUE or MODE:METRIC=VALUE, "
                               "e.g. hit@5=0.8 or hybrid:mrr@10=0.7")
        if metric in LATENCY_METRICS:
            raise GoldSetError(f"--fail-under {text!r}: latency is lower-is-better; thresholds "
                               "apply to quality metrics only")
        return cls(mode or None, metric, value)


def mode_values(result: Mapping[str, Any]) -> dict[str, dict[str, float]]:
    """``{mode: {metric: value}}`` for a gold or a BEIR result."""
    if result["kind"] == "timeline":  # one "mode": timeline:precision=0.8 and so on
        return {"timeline": {k: float(v) for k, v in result["all"].items()}}
    if result["kind"] == "beir":
        return {r["mode"]: {k: v for k, v in r.items() if isinstance(v, float | int)}
                for r in result["rows"]}
    return {mode: {**res["metrics"], **res["answers"]} for mode, res in result["modes"].items()}


def check_thresholds(result: Mapping[str, Any], thresholds: Sequence[Threshold]) -> list[str]:
    """One line per threshold not met. Raises :class:`GoldSetError` for an unknown name."""
    values = mode_values(result)
    failures = []
    for t in thresholds:
        modes = [t.mode] if t.mode else list(values)
        for mode in modes:
            if mode not in values:
                raise GoldSetError(f"--fail-under: mode {mode!r} was not evaluated "
                                   f"(evaluated: {', '.join(values)})")
            if t.metric not in values[mode]:
                known = ", ".join(k for k in values[mode] if k not in LATENCY_METRICS)
                raise GoldSetError(f"--fail-under: unknown metric {t.metric!r}; use one of {known}")
            got = values[mode][t.metric]
            if got < t.value:
                failures.append(f"{mode} {t.metric} = {got:.4f} is under {t.value:.4f}")
    return failures
