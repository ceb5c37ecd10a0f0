"""Snakemake's own records of the jobs a run did, read from ``.snakemake/metadata``.

Snakemake keeps one JSON record per output file it wrote (its file backend: the record's
name is the output path, URL-safe base64, split into ``@``-prefixed folders where the name
would be too long), holding the rule, the job's hash, its start and end time (epoch seconds)
and its log files. Every output of one job carries the same rule and job hash, which is how
:func:`jobs` puts them back together: the times are per output (the start is the output's
incomplete-marker's, microseconds apart; the end is the output file's own mtime, so two
outputs written at different moments of a job end apart). Tests and benchmarks read which
jobs ran, and when, from here rather than from Snakemake's printed log, whose wording is not
an interface.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import Path

METADATA = Path(".snakemake") / "metadata"


@dataclass(frozen=True)
class Job:
    """One job of a run: its rule, every output it wrote (paths relative to the working
    directory, sorted), its logs, and its start and end (epoch seconds)."""

    rule: str
    outputs: tuple[str, ...]
    logs: tuple[str, ...]
    start: float
    end: float

    @property
    def seconds(self) -> float:
        return self.end - self.start


def _output_path(record: Path, metadata: Path) -> str:
    """The output path a record file is named after (Snakemake's ``_record_path``)."""
    parts = record.relative_to(metadata).parts
    encoded = "".join(p.removeprefix("@") for p in parts)
    return base64.urlsafe_b64decode(encoded.encode()).decode()


def records(workdir: str | Path) -> dict[str, dict]:
    """Output path -> its record, for every output Snakemake has a record of in ``workdir``."""
    metadata = Path(workdir) / METADATA
    if not metadata.is_dir():
        return {}
    out = {}
    for path in metadata.rglob("*"):
        if path.is_file():
            out[_output_path(path, metadata)] = json.loads(path.read_text())
    return out


def jobs(workdir: str | Path, since: float | None = None) -> list[Job]:
    """The jobs whose records are in ``workdir``, oldest first; with ``since`` (epoch
    seconds), only the jobs that started at or after it (one run's jobs: pass the time the
    run was launched). A job that is still running, or that failed, has no record."""
    grouped: dict[tuple, dict] = {}
    for output, rec in records(workdir).items():
        start = rec.get("starttime")
        if start is None or (since is not None and start < since):
            continue
        end = rec.get("endtime") or start
        # the job hash is unique within a run and a job rewrites every output's record, so
        # (rule, hash) is one job; a record without a hash is a job of its own
        job_hash = rec.get("job_hash")
        key = (rec["rule"], job_hash) if job_hash is not None else (rec["rule"], None, output)
        job = grouped.setdefault(
            key, {"outputs": [], "logs": rec.get("log") or [], "start": start, "end": end}
        )
        job["outputs"].append(output)
        job["start"] = min(job["start"], start)
        job["end"] = max(job["end"], end)
    return sorted(
        (
            Job(key[0], tuple(sorted(j["outputs"])), tuple(j["logs"]), j["start"], j["end"])
            for key, j in grouped.items()
        ),
        key=lambda j: (j.start, j.rule, j.outputs),
    )


__all__ = ["METADATA", "Job", "jobs", "records"]
