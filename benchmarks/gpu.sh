#!/usr/bin/env bash
# The GPU check, ready to run on a CUDA machine with the project installed:
#
#     bash benchmarks/gpu.sh [OUT.json]        # default benchmarks/results/gpu.json
#
# 1. the CUDA-marked tests (pytest -m cuda);
# 2. benchmarks/gpu_encode.py: fp32 and bf16 batched encoding of random full-size SAM vit_h
#    (plain, accelerate: sdpa and chunked) and sam2.1_hiera_large (skipped, with its reason, when
#    `import sam2` fails) on 64 images, images/s against the same run's bf16 matmul rate;
# 3. the demo workflow (config/config.yaml) with `device: cuda` in a scratch folder.
# Everything goes into one JSON. Each step has a time limit, so the whole stays under 8 min.
# Without CUDA it says what it skipped and exits 0, writing nothing.
set -uo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
if [[ -n "${PYTHON:-}" ]]; then PY="$PYTHON"
elif [[ -x .venv/bin/python ]]; then PY=.venv/bin/python
else PY=python; fi
OUT="${1:-benchmarks/results/gpu.json}"
export PYTHONPATH="$REPO/src${PYTHONPATH:+:$PYTHONPATH}"

if ! "$PY" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
    echo "gpu.sh: no CUDA device (torch.cuda.is_available() is False on $(hostname));" \
        "skipped: the CUDA-marked tests, the vit_h / sam2.1_hiera_large encoding benchmark," \
        "the demo with device: cuda. Nothing written."
    exit 0
fi

WORK="$(mktemp -d -t clickbench-gpu-XXXXXX)"
START=$(date +%s)
echo "gpu.sh: scratch folder $WORK"

# 1. CUDA-marked tests
t=$(date +%s)
timeout 150 "$PY" -m pytest tests -m cuda -q -p no:cacheprovider --junitxml="$WORK/tests.xml" \
    >"$WORK/tests.log" 2>&1
TESTS_RC=$?
TESTS_S=$(( $(date +%s) - t ))
tail -n 3 "$WORK/tests.log"

# 2. encoding benchmark
t=$(date +%s)
timeout 210 "$PY" benchmarks/gpu_encode.py --images 64 --out "$WORK/encode.json" \
    >"$WORK/encode.log" 2>&1
ENCODE_RC=$?
ENCODE_S=$(( $(date +%s) - t ))
tail -n 12 "$WORK/encode.log"

# 3. the demo on the GPU
t=$(date +%s)
timeout 180 "$PY" -m snakemake --cores 4 --directory "$WORK/demo" -s "$REPO/Snakefile" \
    --configfile "$REPO/config/config.yaml" --config device=cuda \
    >"$WORK/demo.log" 2>&1
DEMO_RC=$?
DEMO_S=$(( $(date +%s) - t ))
tail -n 3 "$WORK/demo.log"

mkdir -p "$(dirname "$OUT")"
"$PY" - "$WORK" "$OUT" "$TESTS_RC" "$TESTS_S" "$ENCODE_RC" "$ENCODE_S" "$DEMO_RC" "$DEMO_S" \
    "$(( $(date +%s) - START ))" <<'PYEOF'
import json, sys, xml.etree.ElementTree as ET
from pathlib import Path
work, out = Path(sys.argv[1]), Path(sys.argv[2])
rc = dict(zip(("tests", "encode", "demo"), map(int, sys.argv[3:9:2])))
secs = dict(zip(("tests", "encode", "demo"), map(int, sys.argv[4:10:2])))
res = {"total_s": int(sys.argv[9]), "scratch": str(work)}
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
res["demo_cuda"] = demo
out.write_text(json.dumps(res, indent=1))
print(f"gpu.sh: wrote {out} in {res['total_s']} s (tests rc {rc['tests']}, encode rc "
      f"{rc['encode']}, demo rc {rc['demo']})")
PYEOF
[[ $TESTS_RC -eq 0 && $ENCODE_RC -eq 0 && $DEMO_RC -eq 0 ]]
