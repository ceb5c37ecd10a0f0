"""Where dedup's verification limits come from, and how it scores on real-photo test sets.

Part 1 (the limits): every real photo (GrabCut's 50 when present, the package photos of
``clickbench.dedup_eval``) against 14 augmented copies of itself (one of each kind, then
rotations; jittered, blurred, JPEG re-encoded or not) and against its look-alike views (shifted
by 3%, zoomed by 6%, object moved by 5%; the stereo pair's two views). For each measure of
``clickbench.dedup.Alignment`` and the hash distance it prints the copies' worst value, the
look-alikes' best (per kind) and dedup's limit, and how many copies the limits would split
and how many look-alikes they would merge.

Part 2 (the sets): the test sets of tests/test_dedup_real.py, each grouped as one class:
pairwise precision and recall, groups, representatives that are rotated copies, and the CPU
time.

    python benchmarks/dedup_real.py
    python benchmarks/dedup_real.py --grabcut ../shared/datasets/GrabCut
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from clickbench import dedup
from clickbench import dedup_eval as ev

REPO = Path(__file__).resolve().parents[1]
MEASURES = {  # measure: (copies' worst is the max or the min, dedup's limit)
    "distance": ("max", dedup.DEFAULT_MAX_DISTANCE),
    "shift": ("max", dedup.MAX_SHIFT),
    "rotation": ("max", dedup.MAX_ROTATION),
    "zoom": ("max", dedup.MAX_ZOOM),
    "correlation": ("min", dedup.MIN_CORRELATION),
    "block_residual": ("max", dedup.MAX_BLOCK_RESIDUAL),
}


def _measure(a: dedup.Canonical, b: dedup.Canonical) -> dict:
    al = dedup.verify_pair(a, b)
    dist, _ = dedup.pair_distances(b.hashes[None], a.hashes[None])
    return {
        "distance": int(dist[0, 0]),
        "shift": al.shift,
        "rotation": abs(al.rotation),
        "zoom": float(np.exp(abs(np.log(al.zoom)))),
        "correlation": al.correlation,
        "block_residual": al.block_residual,
        "joins": bool(dist[0, 0] <= dedup.DEFAULT_MAX_DISTANCE and al.same_photo()),
    }


def limits_table(photos: list[ev.Photo], seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for photo in photos:
        ref = dedup.image_hashes(photo.image)
        for item in list(ev.copies(rng, photo.image, 14))[1:]:
            rows.append({"relation": "copy", **_measure(ref, dedup.image_hashes(item.image))})
        views = [dedup.image_hashes(v) for v in ev.look_alikes(photo, rng)]
        kinds = ("shifted 3%", "zoomed 6%", "object moved 5%")[: len(views) - 1]
        for kind, view in zip(kinds, views[1:], strict=True):
            rows.append({"relation": kind, **_measure(views[0], view)})
    pair = {p.name: p for p in photos}
    if "motorcycle_left" in pair:
        left, right = (
            dedup.image_hashes(pair[n].image) for n in ("motorcycle_left", "motorcycle_right")
        )
        rows.append({"relation": "stereo pair", **_measure(left, right)})
    return pd.DataFrame(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--grabcut", default=str(REPO.parent / "shared" / "datasets" / "GrabCut"))
    args = ap.parse_args()
    package = ev.package_photos()
    grabcut = ev.grabcut_photos(args.grabcut) if Path(args.grabcut, "data_GT").is_dir() else []
    usable = [p for p in grabcut + package if ev.in_scope(p)]
    left_out = [p.name for p in grabcut + package if not ev.in_scope(p)]
    print(
        f"{len(grabcut)} GrabCut photos, {len(package)} package photos; left out (black "
        f"corners of their own): {', '.join(left_out) or 'none'}"
    )

    t0 = time.process_time()
    table = limits_table(usable)
    print(f"\n## limits ({time.process_time() - t0:.1f} s CPU)\n")
    copies = table[table["relation"] == "copy"]
    header = ["measure", f"copies' worst (n={len(copies)})", "limit"]
    kinds = [k for k in table["relation"].unique() if k != "copy"]
    header += [f"{k}: best (n={int((table['relation'] == k).sum())})" for k in kinds]
    print("| " + " | ".join(header) + " |")
    print("|" + " --- |" * len(header))
    for measure, (worst, limit) in MEASURES.items():
        col = copies[measure].replace([np.inf, -np.inf], np.nan)
        cells = [measure, f"{getattr(col, worst)():.4g}", f"{limit:g}"]
        for k in kinds:
            other = table.loc[table["relation"] == k, measure].replace([np.inf, -np.inf], np.nan)
            best = other.min() if worst == "max" else other.max()
            cells.append(f"{best:.4g}")
        print("| " + " | ".join(cells) + " |")
    print(
        f"\ncopies the limits split from their photo: {int((~copies['joins']).sum())} of "
        f"{len(copies)}"
    )
    for k in kinds:
        sub = table[table["relation"] == k]
        beyond = []
        for measure, (worst, limit) in MEASURES.items():
            out = sub[measure] > limit if worst == "max" else sub[measure] < limit
            beyond.append(f"{measure} {int(out.sum())}")
        print(
            f"{k}: merged with their reference view: {int(sub['joins'].sum())} of {len(sub)}; "
            f"beyond each limit: {', '.join(beyond)}"
        )

    print("\n## test sets\n")
    print(
        "| set | images | originals | groups | precision | recall | rotated representatives "
        "| CPU s |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    by_name = {p.name: p for p in package}
    sets = {}
    for name in ("coffee", "astronaut"):
        sets[f"every angle 1-359 ({name} + rocket every 7)"] = (
            list(ev.every_angle(by_name[name].image, 0))
            + list(ev.every_angle(by_name["rocket"].image, 1, step=7)),
            1,
        )
    pkg = [p for p in usable if p in package and not p.name.startswith("motorcycle")]
    items = ev.scene_set(pkg, 5)
    rng = np.random.default_rng(6)
    base = max(it.group for it in items) + 1
    for g, name in enumerate(["motorcycle_left", "motorcycle_right"]):
        items += list(ev.copies(rng, by_name[name].image, 6, base + g))
    sets["package photos + look-alikes + stereo pair"] = (items, 2)
    if grabcut:
        sets["GrabCut 50 + look-alikes"] = (ev.scene_set(grabcut, 3), 4)
    for name, (items, seed) in sets.items():
        t0 = time.process_time()
        s = ev.score_set(items, seed)
        cpu = time.process_time() - t0
        print(
            f"| {name} | {s.images} | {s.originals} | {s.groups} | {s.precision:.4f} | "
            f"{s.recall:.4f} | {s.rotated_representatives} | {cpu:.1f} |"
        )


if __name__ == "__main__":
    main()
