"""Probe ensemble member variants on wide tables (test accuracy, 3 seeds)."""
import json, os, subprocess, sys, time
from pathlib import Path
sys.path.insert(0, "/work/probe/bench")
import tabular_panel
from tabular_common import read
tables = sys.argv[1].split(","); variants = sys.argv[2].split(";"); seeds = int(sys.argv[3]); out = sys.argv[4]
VAR = {"base": ({}, []), "acc": ({}, ["--metric", "accuracy"]), "units2048": ({"HG_UNITS": "2048"}, []),
       "ep15": ({"HG_EPOCH_FACTOR": "1.5"}, []), "ep2": ({"HG_EPOCH_FACTOR": "2"}, []),
       "mixmon": ({"HG_MIXMON": "1"}, []), "lowlr": ({"HG_LR": "-3.5,-2.7"}, []),
       "std": ({}, ["--scaling", "standard"]), "anneal": ({"HG_ANNEAL": "1"}, []), "anneal15": ({"HG_ANNEAL": "1", "HG_EPOCH_FACTOR": "1.5"}, []), "p40": ({}, ["--patience", "40"]), "one": ({}, ["--ensemble", "1"]), "mdrop": ({"HG_MEMBER_DROPOUT": "1"}, [])}
res = []
for name in tables:
    work = Path(f"/tmp/probe/{name}"); work.mkdir(exist_ok=True)
    path, target = tabular_panel.export(name, work); raw = read(path)
    for seed in range(seeds):
        tr, te = tabular_panel.split(raw, target, seed)
        tr.to_csv(work / f"train{seed}.csv", index=False); te.to_csv(work / f"test{seed}.csv", index=False)
        for v in variants:
            env_extra, opts = VAR[v]
            env = {**os.environ, "PYTHONPATH": "/work/probe/src", **env_extra}
            t = time.time()
            d = subprocess.run(["/work/main/.venv/bin/python", "-m", "handgrad", "train", "--data", str(work / f"train{seed}.csv"),
                                "--target", target, "--test", str(work / f"test{seed}.csv"), "--no-plot", "--json", "--quiet",
                                "--seed", str(seed), "--out-dir", str(work / f"o-{v}"), *opts], env=env, capture_output=True, text=True)
            dt = time.time() - t
            acc = json.loads(d.stdout)["test"]["accuracy"] if d.returncode == 0 else None
            if acc is None: print(d.stderr[-500:], file=sys.stderr)
            res.append({"table": name, "seed": seed, "variant": v, "acc": acc, "s": dt})
            print(name, seed, v, acc, round(dt, 1), flush=True)
            Path(out).write_text(json.dumps(res))
