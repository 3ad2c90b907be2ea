#!/usr/bin/env python3
"""Duplicate benchmark: likeness duplicates vs czkawka_cli image vs findimagedupes on the set
made by benches/make-dup-set.py, side by side in one run. Python standard library only.

    benches/dup-bench.py SET [--likeness target/release/likeness] [--sweep]

Pairwise metrics: a tool's groups predict every pair inside a group.
- "same picture" truth: the pairs within one original's {orig, 14 edits};
- "near (incl. same)" truth adds each original's real later shots (other captures of its
  scene, seconds apart);
- the synthetic reframe (a crop of a fifth of the area) is derived from the original's capture
  but no edit the issue names: its pairs are left out of precision and reported as recall only.
Every other pair a tool predicts is false: edits of two different originals, a distractor
(another capture of some original's subject) with anything, two originals.
Also: recall per transformation; false pairs that are hard negatives (both photos of one
subject set); and, on the set's duplicate-free folder ("distinct": originals, real later shots,
distractors, no edit), the number of files each tool proposes for the trash (likeness: members
marked "proposed"; a peer proposes every member of a group but one). --sweep adds likeness's
agreement threshold grid (for calibration).
"""
import argparse
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def pairs_of(groups):
    out = set()
    for g in groups:
        for a, b in itertools.combinations(sorted(set(g)), 2):
            out.add((a, b))
    return out


def prf(pred, truth, ignore=frozenset()):
    pred = pred - ignore
    tp = len(pred & truth)
    p = tp / len(pred) if pred else 1.0
    r = tp / len(truth) if truth else 1.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f, len(pred) - tp


def subject(path):
    """Subject set of a file: its original's id, or the distractor set it belongs to (the set's
    original is one of the originals, found through `origin_of`)."""
    return path.split("/")[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("set")
    ap.add_argument("--likeness", default="target/release/likeness")
    ap.add_argument("--czkawka", default=shutil.which("czkawka_cli") or "/opt/czkawka/bin/czkawka_cli")
    ap.add_argument("--findimagedupes", default=shutil.which("findimagedupes"))
    ap.add_argument("--sweep", action="store_true")
    a = ap.parse_args()
    root = Path(a.set).resolve()
    truth = json.loads((root / "truth.json").read_text())
    same_truth, near_truth, per_t, ignore = set(), set(), {}, set()
    for g in truth["groups"]:
        s = sorted(g["same"])
        same_truth |= pairs_of([s])
        real = [f for f in g["near"] if "real-shot" in f]
        near_truth |= pairs_of([s + real])
        orig = f"{g['id']}/orig.jpg"
        for f in s:
            if f != orig:
                t = f.split("/")[1].removeprefix("same-").rsplit(".", 1)[0]
                per_t.setdefault(t, []).append(tuple(sorted((orig, f))))
        for f in g["near"]:
            if "real-shot" in f:
                per_t.setdefault("real second shot (near)", []).append(tuple(sorted((orig, f))))
            else:
                per_t.setdefault("reframe (crop to 20 %, not scored)", []).append(tuple(sorted((orig, f))))
                ignore |= {tuple(sorted((f, x))) for x in s}
    # Hard negatives: distractor sets share a subject with the original made from their first
    # photo (neg-<set> with the group whose source is in the same set folder).
    set_of_group = {}
    for g in truth["groups"]:
        set_of_group[g["id"]] = Path(g["source"]).parent.name
    distractors = truth.get("distractors", [])

    def same_subject(x, y):
        sx = x.split("/")[0]
        sy = y.split("/")[0]
        nx = sx.removeprefix("neg-") if sx.startswith("neg-") else set_of_group.get(sx)
        ny = sy.removeprefix("neg-") if sy.startswith("neg-") else set_of_group.get(sy)
        return nx is not None and nx == ny

    results = []  # (tool, setting, tier, groups, seconds)

    def run_likeness(folder, tiers):
        data = tempfile.mkdtemp(prefix="dupbench-")
        env = dict(os.environ, LIKENESS_DATA_DIR=data)
        t = time.time()
        subprocess.run([a.likeness, "index", "--quiet", str(folder)], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        index_s = time.time() - t
        out = {}
        for tier, extra in tiers:
            t = time.time()
            o = subprocess.run([a.likeness, "duplicates", "--json", "--tier", tier, *extra], env=env,
                               check=True, capture_output=True, text=True).stdout
            out[(tier, tuple(extra))] = (json.loads(o)["groups"], time.time() - t + index_s)
        return out, env, data

    def rel_to(folder):
        return lambda p: str(Path(p).resolve().relative_to(folder))

    rel = rel_to(root)
    tiers = [("same", []), ("near", [])]
    if a.sweep:
        tiers += [("same", ["--min-agreement", str(x)]) for x in [0.5, 0.55, 0.6, 0.65, 0.75, 0.8, 0.85, 0.9]]
    lk, env, data = run_likeness(root, tiers)
    for (tier, extra), (groups, s) in lk.items():
        if extra:
            continue
        results.append(("likeness", f"--tier {tier} (defaults)", tier,
                        [[rel(p) for p in g["files"]] for g in groups], s))

    def czkawka(folder, r):
        out = []
        if a.czkawka and Path(a.czkawka).exists():
            for args in [[], ["-s", "10"], ["-s", "20"], ["-s", "10", "--geometric-invariance", "mirror-flip-rotate90"]]:
                o = tempfile.mktemp(suffix=".json")
                t = time.time()
                subprocess.run([a.czkawka, "image", "-d", str(folder), "-H", "-N", "-M", "-W", "-C", o, *args],
                               check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                s = time.time() - t
                text = Path(o).read_text() if Path(o).exists() else "[]"
                groups = [[r(f["path"]) for f in g] for g in json.loads(text or "[]")]
                out.append(("czkawka_cli image", " ".join(args) or "defaults (-c 16 -s 5)", "same", groups, s))
        return out

    def findimagedupes(folder, r):
        out = []
        if a.findimagedupes:
            for thr in ["90%", "95%"]:
                t = time.time()
                o = subprocess.run([a.findimagedupes, "-R", "-q", "-t", thr, str(folder)],
                                   capture_output=True, text=True).stdout
                s = time.time() - t
                groups = [[r(p) for p in line.split()] for line in o.splitlines() if line.strip()]
                out.append(("findimagedupes", f"-t {thr}", "same", groups, s))
        return out

    results += czkawka(root, rel) + findimagedupes(root, rel)

    # Keeper: each original keeps its EXIF and full size, its copies have neither (or are a
    # lossless re-encode without EXIF), so the original is the right one to keep.
    same_groups = lk[("same", ())][0]
    with_orig = [g for g in same_groups if any(rel(f).endswith("/orig.jpg") for f in g["files"])]
    keeper_ok = sum(rel(g["keep"]).endswith("/orig.jpg") for g in with_orig)
    wrong = [rel(g["keep"]) for g in with_orig if not rel(g["keep"]).endswith("/orig.jpg")]

    n_files = sum(len(g["same"]) + len(g["near"]) for g in truth["groups"]) + len(distractors)
    print(f"Set: {len(truth['groups'])} originals, {len(distractors)} distractors, {n_files} files "
          f"({root})\n")
    print("| tool | setting | vs truth | precision | recall | F1 | false pairs (of them same subject) | time |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for tool, setting, tier, groups, s in results:
        pred = pairs_of(groups)
        for name, tr in [("same picture", same_truth), ("near (incl. same)", near_truth)]:
            if tier == "same" and name.startswith("near") and tool == "likeness":
                continue
            if tier == "near" and name == "same picture":
                continue
            p, r, f, fp = prf(pred, tr, ignore)
            hard = sum(1 for x in (pred - ignore - tr) if same_subject(*x))
            print(f"| {tool} | {setting} | {name} | {p:.3f} | {r:.3f} | {f:.3f} | {fp} ({hard}) | {s:.1f} s |")
    print(f"\nlikeness suggests the original as the keeper in {keeper_ok} of {len(with_orig)} "
          f"same-picture groups holding one" + (f" (others: {', '.join(wrong)})" if wrong else ""))
    print("\nRecall per transformation (pairs original–copy grouped together):\n")
    cols = [(tool, setting, pairs_of(groups)) for tool, setting, tier, groups, s in results]
    print("| transformation | " + " | ".join(f"{t} {s}" for t, s, _ in cols) + " |")
    print("| --- |" + " --- |" * len(cols))
    for tname, ps in per_t.items():
        cells = [f"{sum(p in pred for p in ps) / len(ps):.2f}" for _, _, pred in cols]
        print(f"| {tname} | " + " | ".join(cells) + " |")
    # Precision of likeness's same tier per transformation: false pairs involving that edit.
    print("\nlikeness --tier same: false pairs involving each kind of file:\n")
    pred = pairs_of(results[0][3]) - ignore
    false = pred - same_truth
    kinds = {}
    for x, y in false:
        for f in (x, y):
            k = f.split("/")[1].removeprefix("same-").rsplit(".", 1)[0] if not f.startswith("neg-") else "distractor"
            kinds[k] = kinds.get(k, 0) + 1
    print("| file kind | false pairs |\n| --- | --- |")
    for k, v in sorted(kinds.items(), key=lambda kv: -kv[1]) or [("(none)", 0)]:
        print(f"| {k} | {v} |")

    # The duplicate-free folder: every file that is no edit.
    distinct = tempfile.mkdtemp(prefix="dupbench-distinct-")
    for f in truth.get("distinct", []):
        dst = Path(distinct) / f
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(root / f, dst)
    drel = rel_to(Path(distinct).resolve())
    dlk, _, ddata = run_likeness(Path(distinct), [("same", []), ("near", [])])
    print(f"\nDuplicate-free folder ({len(truth.get('distinct', []))} distinct captures, no edit): "
          "files proposed for the trash\n")
    print("| tool | setting | groups | files proposed for the trash |\n| --- | --- | --- | --- |")
    for (tier, _), (groups, _) in dlk.items():
        # Versions before pixel verification marked every member but the keeper.
        proposed = sum(sum(1 for m in g["scores"]["members"] if m.get("proposed"))
                       if "proposed" in g["scores"]["members"][0] else len(g["files"]) - 1
                       for g in groups)
        print(f"| likeness | --tier {tier} | {len(groups)} | {proposed} |")
    for tool, setting, _, groups, _ in czkawka(Path(distinct), drel) + findimagedupes(Path(distinct), drel):
        print(f"| {tool} | {setting} | {len(groups)} | {sum(len(g) - 1 for g in groups)} |")

    if a.sweep:
        print("\nlikeness --tier same, block-agreement threshold:\n")
        print("| min-agreement | precision | recall | F1 | false pairs | crop-50 recall |")
        print("| --- | --- | --- | --- | --- | --- |")
        for (tier, extra), (groups, _) in sorted(lk.items(), key=lambda kv: kv[0][1]):
            if tier != "same":
                continue
            g = [[rel(p) for p in x["files"]] for x in groups]
            pred = pairs_of(g)
            p, r, f, fp = prf(pred, same_truth, ignore)
            c50 = per_t.get("crop-50", [])
            label = extra[1] if extra else "0.70 (default)"
            print(f"| {label} | {p:.3f} | {r:.3f} | {f:.3f} | {fp} | {sum(x in pred for x in c50) / max(1, len(c50)):.2f} |")
    for d in [data, ddata, distinct]:
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
