"""clickbench.records reads back what real Snakemake recorded of the jobs it ran."""

from __future__ import annotations

import subprocess
import sys
import time

from clickbench import records

LONG = "/".join(f"level{i}-" + "x" * 40 for i in range(4))  # its record's name is split

SNAKEFILE = f"""
rule all:
    input: expand("out/{{s}}/{{i}}.txt", s=["a", "b"], i=["1", "2"]), "long/{LONG}.txt"

rule pair:
    output: "out/{{s}}/{{i}}.txt", "side/{{s}}/{{i}}.tsv"
    log: "logs/{{s}}/{{i}}.log"
    shell: "echo {{wildcards.s}} > {{output[0]}}; echo x > {{output[1]}}; touch {{log}}"

rule long:
    output: "long/{LONG}.txt"
    shell: "touch {{output}}"
"""


def run(workdir, *args):
    cmd = [sys.executable, "-m", "snakemake", "--cores", "1", "-s", "Snakefile", *args]
    proc = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_jobs_are_put_back_together_from_the_per_output_records(tmp_path):
    (tmp_path / "Snakefile").write_text(SNAKEFILE)
    assert records.jobs(tmp_path) == []  # no run yet: no records, no error
    t0 = time.time()
    run(tmp_path)
    jobs = records.jobs(tmp_path, since=t0)
    pairs = [j for j in jobs if j.rule == "pair"]
    assert sorted(j.outputs for j in pairs) == [
        (f"out/{s}/{i}.txt", f"side/{s}/{i}.tsv") for s in "ab" for i in "12"
    ]
    assert all(j.logs == (j.outputs[0].replace("out/", "logs/")[:-4] + ".log",) for j in pairs)
    assert all(t0 <= j.start <= j.end <= time.time() for j in jobs)
    # a path whose record name is too long for one folder entry decodes back
    assert [j.outputs for j in jobs if j.rule == "long"] == [(f"long/{LONG}.txt",)]
    assert any(p.name.startswith("@") for p in (tmp_path / records.METADATA).iterdir())
    assert {j.rule for j in jobs} == {"pair", "long"}  # `all` writes nothing: no record

    # a second run that redoes one job: only that job started since its launch
    (tmp_path / "out" / "b" / "2.txt").unlink()
    t1 = time.time()
    run(tmp_path)
    again = records.jobs(tmp_path, since=t1)
    assert [(j.rule, j.outputs) for j in again] == [("pair", ("out/b/2.txt", "side/b/2.tsv"))]
    assert len(records.jobs(tmp_path)) == len(jobs)  # the others' records are still there


def test_outputs_of_one_job_with_different_end_times_are_one_job(tmp_path):
    """Snakemake stamps each output's end time from that file's mtime (set output by output,
    milliseconds apart under load): the job hash, not the end time, ties them together."""
    import base64
    import json

    meta = tmp_path / records.METADATA
    meta.mkdir(parents=True)

    def record(path, **rec):
        name = base64.urlsafe_b64encode(path.encode()).decode()
        (meta / name).write_text(json.dumps({"rule": "pair", "log": [], **rec}))

    record("out/a.txt", job_hash=7, starttime=10.0, endtime=20.000)
    record("side/a.tsv", job_hash=7, starttime=10.001, endtime=20.004)
    record("out/b.txt", job_hash=8, starttime=11.0, endtime=21.0)
    record("old/x.txt", starttime=1.0, endtime=2.0)  # a record without a hash: a job of its own
    record("old/y.txt", starttime=1.0, endtime=2.0)
    got = [(j.outputs, j.start, j.end) for j in records.jobs(tmp_path)]
    assert got == [
        (("old/x.txt",), 1.0, 2.0),
        (("old/y.txt",), 1.0, 2.0),
        (("out/a.txt", "side/a.tsv"), 10.0, 20.004),
        (("out/b.txt",), 11.0, 21.0),
    ]
    assert [j.outputs for j in records.jobs(tmp_path, since=10.5)] == [("out/b.txt",)]
