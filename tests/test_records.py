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
