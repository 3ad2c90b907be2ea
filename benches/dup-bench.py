#!/usr/bin/env python3
"""Near-duplicate benchmark: likeness duplicates vs czkawka_cli image vs findimagedupes on the
set made by benches/make-dup-set.py, side by side in one run. Python standard library only.

    benches/dup-bench.py SET [--likeness target/release/likeness] [--sweep]

Pairwise metrics: a tool's groups predict every pair inside a group. "same picture" truth =
pairs within one original's {orig, 14 transformations}; "near" truth adds each original's
reframe. Precision, recall, F1 per tool/setting; recall per transformation = share of
(original, transformed copy) pairs grouped together. --sweep also prints likeness's
same-tier thresholds grid (for calibration).
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


def prf(pred, truth):
    tp = len(pred & truth)
    p = tp / len(pred) if pred else 1.0
    r = tp / len(truth) if truth else 1.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f


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
    rel = lambda p: str(Path(p).resolve().relative_to(root))
    same_truth, near_truth, per_t = set(), set(), {}
    for g in truth["groups"]:
        s = sorted(g["same"])
        same_truth |= pairs_of([s])
        near_truth |= pairs_of([s + g["near"]])
        orig = f"{g['id']}/orig.jpg"
        for f in s:
            if f != orig:
                t = f.split("/")[1].removeprefix("same-").rsplit(".", 1)[0]
                per_t.setdefault(t, []).append(tuple(sorted((orig, f))))
        for f in g["near"]:
            t = "reframe (near)" if f.endswith("near-reframe.jpg") else "real second shot (near)"
            per_t.setdefault(t, []).append(tuple(sorted((orig, f))))

    results = []  # (tool, setting, tier, groups, seconds)
    data = tempfile.mkdtemp(prefix="dupbench-")
    env = dict(os.environ, LIKENESS_DATA_DIR=data)
    t = time.time()
    subprocess.run([a.likeness, "index", "--quiet", str(root)], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    index_s = time.time() - t

    def likeness(args):
        t = time.time()
        out = subprocess.run([a.likeness, "duplicates", "--json", *args], env=env, check=True,
                             capture_output=True, text=True).stdout
        return [[rel(p) for p in g["files"]] for g in json.loads(out)["groups"]], time.time() - t

    for tier in ["same", "near"]:
        g, s = likeness(["--tier", tier])
        results.append(("likeness", f"--tier {tier} (defaults)", tier, g, s + index_s))

    if a.czkawka and Path(a.czkawka).exists():
        for args in [[], ["-s", "10"], ["-s", "20"], ["-s", "10", "--geometric-invariance", "mirror-flip-rotate90"]]:
            out = tempfile.mktemp(suffix=".json")
            t = time.time()
            subprocess.run([a.czkawka, "image", "-d", str(root), "-H", "-N", "-M", "-W", "-C", out, *args],
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            s = time.time() - t
            groups = [[rel(f["path"]) for f in g] for g in json.loads(Path(out).read_text() or "[]")]
            results.append(("czkawka_cli image", " ".join(args) or "defaults (-c 16 -s 5)", "same", groups, s))
    if a.findimagedupes:
        for thr in ["90%", "95%"]:
            t = time.time()
            out = subprocess.run([a.findimagedupes, "-R", "-q", "-t", thr, str(root)],
                                 capture_output=True, text=True).stdout
            s = time.time() - t
            groups = [[rel(p) for p in line.split()] for line in out.splitlines() if line.strip()]
            results.append(("findimagedupes", f"-t {thr}", "same", groups, s))

    # Keeper: each original keeps its EXIF and full size, its copies have neither (or are a
    # lossless re-encode without EXIF), so the original is the right one to keep.
    out = subprocess.run([a.likeness, "duplicates", "--json", "--tier", "same"], env=env,
                         check=True, capture_output=True, text=True).stdout
    with_orig = [g for g in json.loads(out)["groups"]
                 if any(rel(f).endswith("/orig.jpg") for f in g["files"])]
    keeper_ok = sum(rel(g["keep"]).endswith("/orig.jpg") for g in with_orig)
    wrong = [rel(g["keep"]) for g in with_orig if not rel(g["keep"]).endswith("/orig.jpg")]

    n_files = sum(len(g["same"]) + len(g["near"]) for g in truth["groups"])
    print(f"Set: {len(truth['groups'])} originals, {n_files} files ({root})\n")
    print("| tool | setting | vs truth | precision | recall | F1 | time |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for tool, setting, tier, groups, s in results:
        pred = pairs_of(groups)
        for name, tr in [("same picture", same_truth), ("near (incl. same)", near_truth)]:
            if tier == "same" and name.startswith("near") and tool == "likeness":
                continue
            if tier == "near" and name == "same picture":
                continue
            p, r, f = prf(pred, tr)
            print(f"| {tool} | {setting} | {name} | {p:.3f} | {r:.3f} | {f:.3f} | {s:.1f} s |")
    print(f"\nlikeness suggests the original as the keeper in {keeper_ok} of {len(with_orig)} "
          f"same-picture groups holding one" + (f" (others: {', '.join(wrong)})" if wrong else ""))
    print("\nRecall per transformation (pairs original–copy grouped together):\n")
    cols = [(tool, setting, pairs_of(groups)) for tool, setting, tier, groups, s in results]
    print("| transformation | " + " | ".join(f"{t} {s}" for t, s, _ in cols) + " |")
    print("| --- |" + " --- |" * len(cols))
    for tname, ps in per_t.items():
        cells = [f"{sum(p in pred for p in ps) / len(ps):.2f}" for _, _, pred in cols]
        print(f"| {tname} | " + " | ".join(cells) + " |")

    if a.sweep:
        print("\nlikeness --tier same, threshold grid (F1 at precision):\n")
        print("| min-similarity | max-phash-distance | phash-min-similarity | precision | recall | F1 |")
        print("| --- | --- | --- | --- | --- | --- |")
        for sim in [0.76, 0.78, 0.80, 0.82, 0.84, 0.86]:
            for d in [0, 4, 6, 8, 10, 12]:
                for floor in [0.3, 0.4, 0.5, 0.6]:
                    g, _ = likeness(["--tier", "same", "--min-similarity", str(sim),
                                     "--max-phash-distance", str(d), "--phash-min-similarity", str(floor)])
                    p, r, f = prf(pairs_of(g), same_truth)
                    print(f"| {sim} | {d} | {floor} | {p:.3f} | {r:.3f} | {f:.3f} |")
        print("\nlikeness --tier near (same-picture thresholds at their defaults), against the near truth:\n")
        print("| near min-similarity | precision | recall | F1 | real second shots found |")
        print("| --- | --- | --- | --- | --- |")
        real = per_t.get("real second shot (near)", [])
        for sim in [0.80, 0.78, 0.76, 0.74, 0.72, 0.70, 0.68]:
            g, _ = likeness(["--tier", "near", "--min-similarity", str(sim)])
            pred = pairs_of(g)
            p, r, f = prf(pred, near_truth)
            print(f"| {sim} | {p:.3f} | {r:.3f} | {f:.3f} | {sum(x in pred for x in real)} of {len(real)} |")
    shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
