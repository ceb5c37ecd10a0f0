"""Perceptual-hash dedup: groups against the demo generator's manifest, representatives, methods,
NA matching, mask consistency, bad input, the summary tables and the scripts."""

from __future__ import annotations

import logging
import runpy
import shutil
from pathlib import Path

import imagehash
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from clickbench import contact_sheet, datasets, dedup, demo, demo_render, native
from clickbench.dedup_eval import pair_scores
from clickbench.errors import BadInputError

REPO = Path(__file__).resolve().parents[1]
DEMO = {"seed": 0, "species": list(demo.DEFAULT_SPECIES), "originals": 3, "copies": 5}
NO_FILL = ("original", "hflip", "vflip", "rot180")


@pytest.fixture(scope="module")
def demo_set(tmp_path_factory):
    base = tmp_path_factory.mktemp("demo")
    root = base / "Fish_Dataset"
    manifest = demo.generate_from_config(root, DEMO)
    samples = datasets.discover({"name": "demo", "layout": "fish", "root": str(root)})
    by_class = {c: [s for s in samples if s.cls == c] for c in DEMO["species"]}
    tables = {c: dedup.dedup_class(s, {"method": "phash"}) for c, s in by_class.items()}
    return base, manifest, by_class, tables


def _truth(manifest, species):
    m = manifest[(manifest["species"] == species) & (manifest["file"] != "")]
    return m.set_index("image")


def test_demo_groups_recovered_exactly(demo_set):
    _, manifest, _, tables = demo_set
    for species, table in tables.items():
        truth = _truth(manifest, species)
        precision, recall = pair_scores(truth.loc[table["image"], "original"], table["group"])
        assert (precision, recall) == (1.0, 1.0), species
        assert table["group"].nunique() == DEMO["originals"]
        assert (table["status"] == "ok").all()


def test_rotation_fill_column_matches_the_transforms(demo_set):
    _, manifest, _, tables = demo_set
    for species, table in tables.items():
        truth = _truth(manifest, species)
        rotated = ~truth.loc[table["image"], "transform"].isin(NO_FILL)
        assert (table["rotation_fill"].to_numpy() == rotated.to_numpy().astype(int)).all()


def test_representative_is_the_lowest_file_without_fill(demo_set):
    _, manifest, _, tables = demo_set
    for species, table in tables.items():
        truth = _truth(manifest, species)
        reps = []
        for _, block in truth.groupby("original"):
            clean = sorted(block.index[block["transform"].isin(NO_FILL)])
            reps.append(clean[0])
        selected = sorted(table.loc[table["selected"] == 1, "image"])
        assert selected == sorted(reps), species
        # groups numbered by their representative's file number
        by_group = table[table["image"] == table["representative"]].sort_values("group")
        assert list(by_group["image"]) == sorted(by_group["image"])
        assert list(by_group["group"]) == list(range(1, len(by_group) + 1))
        assert (by_group["rotation_fill"] == 0).all()
        assert (table.loc[table["image"] == table["representative"], "distance"] == 0).all()


def test_group_with_only_rotated_copies_takes_lowest_file(demo_set):
    _, manifest, by_class, _ = demo_set
    species = "Shrimp"
    truth = _truth(manifest, species)
    rotated = set(truth.index[~truth["transform"].isin(NO_FILL)])
    samples = [s for s in by_class[species] if s.image_id in rotated]
    table = dedup.dedup_class(samples, {})
    reps = table[table["selected"] == 1]
    assert (reps["rotation_fill"] == 1).all()
    for _, members in table.groupby("group"):
        assert members["representative"].iloc[0] == min(members["image"])
    summary = dedup.summarise({species: table})
    assert summary.loc[0, "representatives_with_fill"] == len(reps)


def test_index_and_none_methods(demo_set):
    _, _, by_class, tables = demo_set
    samples = by_class["Gilt-Head Bream"]
    table = dedup.dedup_class(samples, {"method": "index", "index_start": 1, "index_step": 6})
    assert list(table.loc[table["selected"] == 1, "image"]) == ["00001", "00007", "00013"]
    shifted = dedup.dedup_class(samples, {"method": "index", "index_start": 2, "index_step": 20})
    assert list(shifted.loc[shifted["selected"] == 1, "image"]) == ["00002"]
    everything = dedup.dedup_class(samples, {"method": "none"})
    assert everything["selected"].sum() == len(samples)
    # the index rule's picks are listed whatever the method (default: 1, 21, ...)
    assert list(everything.loc[everything["index_pick"] == 1, "image"]) == ["00001"]
    assert list(table.loc[table["index_pick"] == 1, "image"]) == ["00001", "00007", "00013"]
    # the groups are the same whatever selects
    phash = tables["Gilt-Head Bream"]
    for t in (table, everything):
        assert (t["group"].to_numpy() == phash["group"].to_numpy()).all()
    with pytest.raises(ValueError, match="dedup.method"):
        dedup.dedup_class(samples, {"method": "md5"})


def test_index_rule_comparison_counts_rotated_picks(demo_set):
    _, manifest, _, tables = demo_set
    total_fill = 0
    for species, table in tables.items():
        truth = _truth(manifest, species)
        row = dedup.compare_index_rule(table, 1, DEMO["copies"] + 1)
        picks = [f"{n:05d}" for n in range(1, len(table) + 1, DEMO["copies"] + 1)]
        assert row["picked_files"].split() == picks
        expect_fill = int((~truth.loc[picks, "transform"].isin(NO_FILL)).sum())
        assert row["picked_rotation_fill"] == expect_fill
        true_reps = {
            sorted(block.index[block["transform"].isin(NO_FILL)])[0]
            for _, block in truth.groupby("original")
        }
        assert row["picked_not_representative"] == sum(p not in true_reps for p in picks)
        assert row["groups_missed"] + row["groups_picked"] == row["groups"]
        total_fill += row["picked_rotation_fill"]
    assert total_fill >= 1  # the study's rule picks rotated copies on the demo


def test_native_originals_matched_to_their_groups(demo_set):
    base, manifest, _, tables = demo_set
    found = native.find_native(base / "Fish_Dataset")
    assert set(found) == set(DEMO["species"])
    for species, table in tables.items():
        match = native.match_native(found[species], table)
        truth = _truth(manifest, species)
        group_of_original = {
            int(truth.loc[img, "original"]): int(g)
            for img, g in zip(table["image"], table["group"], strict=True)
        }
        man = manifest[manifest["species"] == species]
        expect = {}
        for _, r in man[man["native"] != ""].drop_duplicates("native").iterrows():
            key = str(base / r["native"])
            expect[key] = group_of_original.get(int(r["original"]), 0)
        got = match[match["native"] != ""].set_index("native")
        assert set(got.index) == set(expect)
        for path, g in expect.items():
            assert got.loc[path, "group"] == g, (species, path)
            assert got.loc[path, "status"] == ("matched" if g else "no_group")
        missing = set(table["group"]) - {g for g in expect.values() if g}
        assert set(match.loc[match["status"] == "no_native", "group"]) == missing
    # the demo has one group without an NA file and one NA file without a group
    allm = pd.concat([native.match_native(found[c], t) for c, t in tables.items()])
    assert (allm["status"] == "no_native").sum() == 1
    assert (allm["status"] == "no_group").sum() == 1


@pytest.fixture()
def shrimp_copy(demo_set, tmp_path):
    """A writable copy of the demo's Shrimp class."""
    base, manifest, _, _ = demo_set
    root = tmp_path / "Fish_Dataset"
    shutil.copytree(base / "Fish_Dataset" / "Shrimp", root / "Shrimp")
    samples = datasets.discover({"name": "t", "layout": "fish", "root": str(root)})
    return root, samples, _truth(manifest, "Shrimp")


@pytest.mark.parametrize("who", ["copy", "representative"])
def test_mask_of_another_original_is_flagged(shrimp_copy, caplog, who):
    """A mask swapped with another original's is flagged, and only that one, whether it
    belongs to a copy or to the group's representative."""
    root, samples, truth = shrimp_copy
    block = truth[truth["original"] == 2]
    clean = sorted(block.index[block["transform"].isin(NO_FILL)])
    if who == "representative":
        target = clean[0]
    else:
        target = sorted(block.index[block["transform"] == "rotate"])[0]
    donor_block = truth[truth["original"] == 1]
    donor = donor_block.index[donor_block["transform"] == truth.loc[target, "transform"]][0]
    gt = root / "Shrimp" / "Shrimp GT"
    shutil.copy(gt / f"{donor}.png", gt / f"{target}.png")
    with caplog.at_level(logging.WARNING, logger="clickbench.dedup"):
        table = dedup.dedup_class(samples, {})
    flagged = table[table["mask_consistent"] == 0]
    assert list(flagged["image"]) == [target]
    assert flagged["mask_iou"].iloc[0] < dedup.MASK_IOU_MIN
    assert (table.loc[table["image"] != target, "mask_iou"] > 0.95).all()
    assert target in caplog.text and "disagrees" in caplog.text
    assert dedup.summarise({"Shrimp": table}).loc[0, "mask_inconsistent"] == 1
    # grouping is unchanged by a bad mask
    precision, recall = pair_scores(truth.loc[table["image"], "original"], table["group"])
    assert (precision, recall) == (1.0, 1.0)


def test_corrupt_image_skipped_or_raised(shrimp_copy):
    root, samples, truth = shrimp_copy
    victim = root / "Shrimp" / "Shrimp" / "00004.png"
    victim.write_bytes(victim.read_bytes()[:2000])
    with pytest.raises(BadInputError, match="00004.png"):
        dedup.dedup_class(samples, {}, on_bad_input="error")
    table = dedup.dedup_class(samples, {}, on_bad_input="skip")
    bad = table.set_index("image").loc["00004"]
    assert bad["status"] == "skipped" and bad["selected"] == 0 and bad["group"] == 0
    assert "truncated" in bad["problem"] or "corrupt" in bad["problem"]
    ok = table[table["status"] == "ok"]
    assert len(ok) == len(samples) - 1 and (ok["problem"] == "").all()
    precision, recall = pair_scores(truth.loc[ok["image"], "original"], ok["group"])
    assert (precision, recall) == (1.0, 1.0)
    skipped = dedup.skipped_table({"Shrimp": table})
    assert list(skipped.columns) == ["class", "image", "path", "problem"]
    assert list(skipped["image"]) == ["00004"] and skipped["path"].iloc[0] == str(victim)


def test_bad_mask_is_skipped_naming_the_mask(shrimp_copy):
    root, samples, _ = shrimp_copy
    mask = root / "Shrimp" / "Shrimp GT" / "00002.png"
    Image.fromarray(np.zeros((445, 590), np.uint8)).save(mask)  # empty mask
    table = dedup.dedup_class(samples, {}, on_bad_input="skip")
    skipped = dedup.skipped_table({"Shrimp": table})
    assert list(skipped["image"]) == ["00002"]
    assert skipped["path"].iloc[0] == str(mask) and "empty" in skipped["problem"].iloc[0]


def test_tables_are_byte_identical(demo_set, tmp_path):
    _, _, by_class, tables = demo_set
    again = dedup.dedup_class(by_class["Hourse Mackerel"], {"method": "phash"})
    dedup.write_table(tables["Hourse Mackerel"], tmp_path / "a.tsv")
    dedup.write_table(again, tmp_path / "b.tsv")
    assert (tmp_path / "a.tsv").read_bytes() == (tmp_path / "b.tsv").read_bytes()
    back = dedup.read_table(tmp_path / "a.tsv")
    assert list(back.columns) == list(dedup.COLUMNS)
    assert back["image"].iloc[0] == "00001" and back["hash"].str.len().eq(64).all()


def test_summary_counts(demo_set):
    _, _, _, tables = demo_set
    summary = dedup.summarise(tables)
    assert list(summary["class"]) == [*tables, "total"]
    total = summary.iloc[-1]
    n = len(DEMO["species"]) * DEMO["originals"]
    assert (total["images"], total["groups"], total["selected"]) == (n * 6, n, n)
    assert total["group_sizes"] == f"6:{n}"


# ---------------------------------------------------------------------------- canonical view
def test_dihedral_phashes_equal_imagehash_on_each_variant():
    rng = np.random.default_rng(2)
    image, _ = demo_render.render_original(rng, "Red Sea Bream")
    canon = dedup.image_hashes(image)
    assert canon.hashes.shape == (8, dedup.WORDS)
    for k in range(8):
        ref = imagehash.phash(Image.fromarray(dedup.dihedral(canon.thumb, k)), hash_size=16)
        assert dedup.hash_to_hex(canon.hashes[k]) == str(ref)


@pytest.mark.parametrize(
    ("kind", "angle"),
    [
        ("hflip", 0),
        ("vflip", 0),
        ("rot90", 90),
        ("rot180", 180),
        ("rot270", 270),
        ("rotate", 17.5),
        ("rotate", 63.0),
        ("rotate", 118.0),
        ("rotate", 286.9),
    ],
)
def test_copies_hash_close_to_their_original(kind, angle):
    rng = np.random.default_rng(11)
    image, mask = demo_render.render_original(rng, "Hourse Mackerel")
    copy, _ = demo.transform(demo.jitter(rng, image), mask, kind, angle)
    a, b = dedup.image_hashes(image), dedup.image_hashes(copy)
    dist, _ = dedup.pair_distances(b.hashes[None], a.hashes[None])
    assert dist[0, 0] <= 32
    assert dedup.has_rotation_fill(copy) == (kind in ("rot90", "rot270", "rotate"))
    if kind == "rotate":
        expect = (angle + 45) % 90 - 45
        assert abs(b.geometry.angle - expect) < 1.5
        assert abs(b.geometry.scale - 1) < 0.03
    if kind in ("rot90", "rot270"):
        assert abs(b.geometry.scale - 445 / 590) < 0.03


def test_dark_object_in_one_corner_is_not_fill():
    image = np.full((445, 590, 3), (40, 90, 160), np.uint8)
    image[:60, :80] = 0  # a black object in the top-left corner only
    assert not dedup.has_rotation_fill(image)
    image[-30:, -30:] = 0
    assert dedup.has_rotation_fill(image)  # two corners: fill


def test_harder_set_precision_and_recall():
    """3 species x 10 originals x 20 copies; originals of one species look alike."""
    labels, canon = [], []
    for s, species in enumerate(["Gilt-Head Bream", "Sea Bass", "Shrimp"]):
        for item in demo.species_images(100 + s, species, 10, 20):
            labels.append((s, item.original))
            canon.append(dedup.image_hashes(item.image))
    truth = [s * 100 + o for s, o in labels]
    found = np.empty(len(canon), int)
    for s in range(3):
        idx = [i for i, (sp, _) in enumerate(labels) if sp == s]  # dedup runs per class
        found[idx] = s * 1000 + dedup.group_images([canon[i] for i in idx])
    precision, recall = pair_scores(truth, found)
    print(f"harder set: precision {precision:.4f}, recall {recall:.4f}")
    assert precision >= 0.99 and recall >= 0.99


# ---------------------------------------------------------------------------- scripts
class _Io(list):
    def __init__(self, items=(), **named):
        super().__init__([*items, *named.values()])
        for k, v in named.items():
            setattr(self, k, v)


class _Snakemake:
    def __init__(self, input, output, params, log):
        self.input, self.output, self.params, self.log = input, output, params, [str(log)]


def _run(script, **kw):
    runpy.run_path(str(REPO / "scripts" / script), init_globals={"snakemake": _Snakemake(**kw)})


def test_scripts_end_to_end(tmp_path):
    cfg = {"seed": 1, "species": ["Gilt-Head Bream", "Shrimp"], "originals": 2, "copies": 3}
    root = tmp_path / "data" / "Fish_Dataset"
    planned = demo.planned_files(root, cfg)
    _run(
        "demo_dataset.py",
        input=_Io(),
        output=_Io(planned, manifest=str(root.parent / "manifest.tsv")),
        params=_Io(root=str(root), demo=cfg),
        log=tmp_path / "demo.log",
    )
    assert all(Path(p).is_file() for p in planned)
    samples = datasets.discover({"name": "t", "layout": "fish", "root": str(root)})
    dedup_cfg = {"method": "phash", "index_start": 1, "index_step": 4, "contact_groups": 2}
    tables = []
    for cls in cfg["species"]:
        mine = [s for s in samples if s.cls == cls]
        out = tmp_path / "dedup" / f"{datasets.slug(cls)}.tsv"
        _run(
            "dedup.py",
            input=_Io(images=[str(s.image) for s in mine], masks=[str(s.mask) for s in mine]),
            output=_Io(table=str(out)),
            params=_Io(
                cls=cls,
                image_ids=[s.image_id for s in mine],
                mask_paths=[str(s.mask) for s in mine],
                layout="fish",
                dedup=dedup_cfg,
                on_bad_input="error",
            ),
            log=tmp_path / f"{cls}.log",
        )
        tables.append(str(out))
    outs = {
        "summary": tmp_path / "t" / "summary.tsv",
        "skipped": tmp_path / "t" / "skipped.tsv",
        "warnings": tmp_path / "t" / "warnings.tsv",
        "native": tmp_path / "t" / "native.tsv",
        "index_rule": tmp_path / "t" / "index_rule.tsv",
        "contact_sheet": tmp_path / "f" / "sheet.png",
    }
    _run(
        "dedup_summary.py",
        input=_Io(tables=tables),
        output=_Io(**{k: str(v) for k, v in outs.items()}),
        params=_Io(classes=cfg["species"], native=str(root), dedup=dedup_cfg),
        log=tmp_path / "summary.log",
    )
    summary = pd.read_csv(outs["summary"], sep="\t")
    assert list(summary["groups"]) == [2, 2, 4]
    assert outs["skipped"].read_text() == "class\timage\tpath\tproblem\n"
    assert outs["warnings"].read_text() == "class\timage\timage_path\tmask_path\twarning\n"
    assert (summary["warnings"] == 0).all()  # the demo's photos and masks are plain RGB/binary
    native = pd.read_csv(outs["native"], sep="\t", keep_default_na=False)
    assert set(native["status"]) <= {"matched", "no_native", "no_group"}
    assert (native["status"] == "matched").sum() == 3  # Shrimp lacks one NA original
    index = pd.read_csv(outs["index_rule"], sep="\t", dtype={"picked_files": str})
    assert list(index["index_picked"]) == [2, 2]
    with Image.open(outs["contact_sheet"]) as im:
        assert im.size[0] > 600 and im.size[1] > 300
    # no NA folder: header-only native table
    _run(
        "dedup_summary.py",
        input=_Io(tables=tables),
        output=_Io(**{k: str(v) for k, v in outs.items()}),
        params=_Io(classes=cfg["species"], native=None, dedup=dedup_cfg),
        log=tmp_path / "summary.log",
    )
    assert outs["native"].read_text().count("\n") == 1


def test_contact_sheet_draws_groups(demo_set, tmp_path):
    _, _, _, tables = demo_set
    out = contact_sheet.contact_sheet(tables, tmp_path / "sheet.png", groups=2)
    with Image.open(out) as im:
        rgb = np.asarray(im.convert("RGB"))
    # 3 classes x 2 groups = 6 rows of thumbnails: tall enough for them, not blank
    assert rgb.shape[0] > 6 * contact_sheet.CELL_H
    assert rgb.std() > 20
    empty = contact_sheet.contact_sheet({}, tmp_path / "empty.png")
    assert empty.is_file()
