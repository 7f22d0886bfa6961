"""The default recipe on real datasets, same budget for each: one table (docs/benchmarks.md §8).

Every dataset is trained with ``draem-inspect train DATA --out M [--steps N] --device cpu`` (every other option
default: size from the images, rotation off, scoring chosen on the validation split, threshold at 1 % FRR) and
evaluated with ``draem-inspect eval DATA --model M --json J --plots P``. One training runs at a time.

    python bench/real_data.py --runs runs/real                      # default budget (~30 min each, 2 CPU cores)
    python bench/real_data.py --runs runs/real --steps 100          # a shorter, equal budget
    python bench/real_data.py --runs runs/real-s1 --seed 1          # another seed, for the spread
    python bench/real_data.py --runs runs/real-sq --train-args "--size 256x256"  # an alternative to a default
    python bench/real_data.py --runs runs/real --skip-train         # evaluate the models already in --runs
    python bench/real_data.py --runs runs/real --refinish --skip-train  # re-choose scoring/threshold, then eval

Datasets default to ball screw (../shared/data) and the fetched ones under /work/data laid out by
``bench/prepare_real_data.py``; give others as ``--data name=path``. Test sets are only evaluated, never used to
choose anything.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = {
    "ball_screw": REPO.parent / "shared/data/ball_screw_bsdata/ball_screw",
    "tire": Path("/work/data/tire"),
    "juice_bottle": Path("/work/data/juice_bottle"),
    "aitex": Path("/work/data/aitex"),
    "metal_plate": Path("/work/data/metal_plate"),
}
COLUMNS = ("dataset", "seed", "size", "steps", "min", "scoring", "img AUROC", "paper img", "pix AUROC", "AUPRO", "pix AP",
           "threshold", "FRR", "escape")  # fmt: skip


def _cli(*args: object, log: Path | None = None) -> float:
    """Run ``draem-inspect ARGS`` (nice 10); returns the wall-clock seconds. Raises on failure."""
    cmd = ["nice", "-n", "10", sys.executable, "-m", "app", *map(str, args)]
    start = time.perf_counter()
    with open(log, "w") if log else open("/dev/null", "w") as out:
        subprocess.run(cmd, check=True, stdout=out, stderr=subprocess.STDOUT, cwd=REPO)
    return time.perf_counter() - start


def run_one(name: str, data: Path, runs: Path, steps: int | None, skip_train: bool, refinish: bool,
            seed: int | None = None, extra: tuple[str, ...] = ()) -> dict:  # fmt: skip
    out = runs / name
    out.mkdir(parents=True, exist_ok=True)
    model = out / "model.safetensors"
    if not skip_train:
        budget = ["--steps", steps] if steps else []
        budget += ["--seed", seed] if seed is not None else []
        _cli("train", data, "--out", model, *budget, *extra, "--device", "cpu", "--checkpoint-every", 50,
             log=out / "train.log")  # fmt: skip
    if refinish:
        from draem_core.train import finish_again

        finish_again(model.with_name("model.ckpt.safetensors"), model)
    _cli("eval", data, "--model", model, "--json", out / "eval.json", "--plots", out / "plots", "--device", "cpu",
         log=out / "eval.log")  # fmt: skip
    return _row(name, model, json.loads((out / "eval.json").read_text()))


def _row(name: str, model: Path, ev: dict) -> dict:
    from draem_core.modelfile import load_model
    from draem_core.scoring import Scoring

    _, meta = load_model(model)
    t = meta.training
    return {"dataset": name, "seed": t.get("seed", "?"), "size": f"{meta.model.image_height}x{meta.model.image_width}", "steps": t["steps"],
            "min": round(t["elapsed_s"] / 60, 1), "scoring": Scoring.from_dict(meta.scoring).label,
            "img AUROC": ev["image_auroc"], "paper img": ev["paper_image_auroc"], "pix AUROC": ev["pixel_auroc"],
            "AUPRO": ev["aupro"], "pix AP": ev["pixel_ap"], "threshold": ev["threshold"],
            "FRR": ev["false_reject_rate"], "escape": ev["escape_rate"], "per_type": ev.get("per_type")}  # fmt: skip


def _fmt(value: object, column: str) -> str:
    if value is None:
        return "n/a"
    if column in ("FRR", "escape"):
        return f"{value:.1%}"
    return f"{value:.3f}" if isinstance(value, float) and column != "min" else str(value)


def table(rows: list[dict]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(_fmt(r[c], c) for c in COLUMNS) + " |" for r in rows]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=Path, required=True, help="folder for models, logs, eval JSON and plots")
    ap.add_argument("--steps", type=int, help="training steps for every dataset (default: train's default)")
    ap.add_argument("--data", nargs="*", default=[], help="name=path datasets (default: the five of docs/benchmarks.md §8)")
    ap.add_argument("--seed", type=int, help="training seed for every dataset (default: train's default, 0)")
    ap.add_argument("--train-args", default="", help='more train options for every dataset, e.g. "--size 256x256"')
    ap.add_argument("--skip-train", action="store_true", help="evaluate the models already in --runs")
    ap.add_argument("--refinish", action="store_true", help="re-choose scoring and threshold from the checkpoints")
    args = ap.parse_args()
    datasets = dict(a.split("=", 1) for a in args.data) if args.data else DEFAULT_DATA
    rows = []
    for name, data in datasets.items():
        rows.append(run_one(name, Path(data), args.runs, args.steps, args.skip_train, args.refinish, args.seed,
                            tuple(shlex.split(args.train_args))))  # fmt: skip
        print(table(rows[-1:]).splitlines()[-1], flush=True)
    (args.runs / "table.json").write_text(json.dumps(rows, indent=2))
    print(table(rows))


if __name__ == "__main__":
    main()
