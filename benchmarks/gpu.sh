#!/usr/bin/env bash
# The GPU check, ready to run on a CUDA machine with the project installed:
#
#     bash benchmarks/gpu.sh [OUT.json]        # default benchmarks/results/gpu.json
#
# 1. the CUDA-marked tests (pytest -m cuda);
# 2. benchmarks/gpu_encode.py: fp32 and bf16 batched encoding of random full-size SAM vit_h
#    (plain, accelerate: sdpa and chunked) and sam2.1_hiera_l (skipped, with its reason, when
#    `import sam2` fails) on 64 images, images/s against the same run's bf16 matmul rate;
# 3. the demo workflow (config/config.yaml) with `device: cuda`, from the root of a scratch copy.
# Everything goes into one JSON. Each step has a time limit, so the whole stays under 8 min.
# Without CUDA it says what it skipped and exits 0, writing nothing.
#
#     GPU_SH_REHEARSE=1 bash benchmarks/gpu.sh OUT.json
#
# rehearses every step on the CPU where there is no GPU: the CUDA-marked tests (they skip),
# gpu_encode.py --rehearse (the tiny SAM and SAM 2, 2 images) and the demo with device: cpu,
# into the same JSON with "rehearsal": true. Its figures mean nothing; it shows the script runs.
# GPU_SH_DEMO_ARGS adds Snakemake arguments to the demo step (the test rehearses it with
# a target list: one of the demo's SAM runs and provenance.yaml, and what they need).
set -uo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${1:-$REPO/benchmarks/results/gpu.json}"
[[ "$OUT" == /* ]] || OUT="$PWD/$OUT"  # a relative OUT.json is the caller's, not the repo's
cd "$REPO"
if [[ -n "${PYTHON:-}" ]]; then PY="$PYTHON"
elif [[ -x .venv/bin/python ]]; then PY="$REPO/.venv/bin/python"
else PY=python; fi
export PYTHONPATH="$REPO/src${PYTHONPATH:+:$PYTHONPATH}"

if [[ "${GPU_SH_REHEARSE:-0}" == 1 ]]; then
    DEVICE=cpu
    ENCODE_ARGS=(--rehearse --images 2 --batch 2)
    echo "gpu.sh: rehearsal on the CPU (GPU_SH_REHEARSE=1): tiny models, device: cpu"
elif ! "$PY" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
    echo "gpu.sh: no CUDA device (torch.cuda.is_available() is False on $(hostname));" \
        "skipped: the CUDA-marked tests, the vit_h / sam2.1_hiera_l encoding benchmark," \
        "the demo with device: cuda. Nothing written."
    exit 0
else
    DEVICE=cuda
    ENCODE_ARGS=(--images 64)
fi

WORK="$(mktemp -d -t clickbench-gpu-XXXXXX)"
START=$(date +%s)
echo "gpu.sh: scratch folder $WORK"

# 1. CUDA-marked tests
t=$(date +%s)
# (only the files that use the marker are collected: importing all of tests/ takes 15-20 s)
mapfile -t CUDA_FILES < <(grep -l 'mark\.cuda' tests/test_*.py)
timeout 150 "$PY" -m pytest "${CUDA_FILES[@]}" -m cuda -q -p no:cacheprovider \
    --junitxml="$WORK/tests.xml" >"$WORK/tests.log" 2>&1
TESTS_RC=$?
TESTS_S=$(( $(date +%s) - t ))
tail -n 3 "$WORK/tests.log"

# 2. encoding benchmark
t=$(date +%s)
timeout 210 "$PY" benchmarks/gpu_encode.py "${ENCODE_ARGS[@]}" --out "$WORK/encode.json" \
    >"$WORK/encode.log" 2>&1
ENCODE_RC=$?
ENCODE_S=$(( $(date +%s) - t ))
tail -n 12 "$WORK/encode.log"

# 3. the demo on the device, as a user runs it: from the root of a copy of the clone (the demo
# config's relative paths, e.g. the plugin's `path: examples`, are the root's), so the clone's
# own results/ are neither reused nor touched
t=$(date +%s)
mkdir -p "$WORK/demo"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then  # what a clone holds
    git ls-files -co --exclude-standard -z | tar --null --ignore-failed-read -T - -cf - 2>/dev/null
else  # an unpacked archive: all but the outputs and the environment
    tar --exclude=./.venv --exclude=./results --exclude=./resources --exclude=./.snakemake \
        --exclude=./build -cf - .
fi | tar -C "$WORK/demo" -xf -
# shellcheck disable=SC2086 # GPU_SH_DEMO_ARGS is a list of words
# (before --config, whose values would swallow targets)
(cd "$WORK/demo" && timeout 180 "$PY" -m snakemake --cores 4 ${GPU_SH_DEMO_ARGS:-} \
    --config device="$DEVICE") \
    >"$WORK/demo.log" 2>&1
DEMO_RC=$?
DEMO_S=$(( $(date +%s) - t ))
tail -n 3 "$WORK/demo.log"

mkdir -p "$(dirname "$OUT")"
"$PY" - "$WORK" "$OUT" "$TESTS_RC" "$TESTS_S" "$ENCODE_RC" "$ENCODE_S" "$DEMO_RC" "$DEMO_S" \
    "$(( $(date +%s) - START ))" "$DEVICE" <<'PYEOF'
import json, sys, xml.etree.ElementTree as ET
from pathlib import Path
work, out = Path(sys.argv[1]), Path(sys.argv[2])
rc = dict(zip(("tests", "encode", "demo"), map(int, sys.argv[3:9:2])))
secs = dict(zip(("tests", "encode", "demo"), map(int, sys.argv[4:10:2])))
device = sys.argv[10]
res = {"device": device, "rehearsal": device != "cuda", "total_s": int(sys.argv[9]),
       "scratch": str(work)}
tests = {"rc": rc["tests"], "s": secs["tests"]}
if (work / "tests.xml").exists():
    suite = ET.parse(work / "tests.xml").getroot()
    suite = suite if suite.tag == "testsuite" else suite[0]
    tests.update({k: int(suite.get(k, 0)) for k in ("tests", "failures", "errors", "skipped")})
tests["log_tail"] = (work / "tests.log").read_text()[-2000:]
res["cuda_tests"] = tests
enc = {"rc": rc["encode"], "s": secs["encode"]}
if (work / "encode.json").exists():
    enc.update(json.loads((work / "encode.json").read_text()))
else:
    enc["log_tail"] = (work / "encode.log").read_text()[-2000:]
res["encode"] = enc
demo = {"rc": rc["demo"], "s": secs["demo"], "log_tail": (work / "demo.log").read_text()[-2000:]}
prov = list((work / "demo" / "results").glob("*/provenance.yaml"))
demo["provenance"] = str(prov[0]) if prov else None
if prov:  # the device the run itself recorded
    import yaml
    demo["provenance_device"] = yaml.safe_load(prov[0].read_text()).get("device")
res["demo"] = demo
out.write_text(json.dumps(res, indent=1))
print(f"gpu.sh: wrote {out} in {res['total_s']} s (tests rc {rc['tests']}, encode rc "
      f"{rc['encode']}, demo rc {rc['demo']})")
PYEOF
[[ $TESTS_RC -eq 0 && $ENCODE_RC -eq 0 && $DEMO_RC -eq 0 ]]
