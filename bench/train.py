#!/usr/bin/env python3
"""Benchmark: SAEHD vs SAEHDBW (and AMP vs AMPBW) training speed and memory on this machine; prints a JSON list of
rows.

Train rows: {"model", "config", "ms_per_iter", "peak_rss_mb", ...} where
  ms_per_iter   median wall ms of one full training iteration in steady state: the src and dst batches from
                real background sample generators (as in training) plus the train step;
  step_ms       median ms of the train step alone on a fixed batch;
  step_cpu_ms   median CPU ms (all threads of the process) of that step: stable when other jobs load the
                machine, which `load_avg` (1-minute load average after the run) shows;
  peak_rss_mb   peak resident memory of the training process (generator workers not included);
  vs_dfl        ms_per_iter / DeepFaceLab's own SAEHD at the same config on this CPU (1,700 ms res-96 df-ud,
                3,300 ms res-128 liae-ud; target <= 0.6);
  vs_saehd      SAEHDBW ms_per_iter / SAEHD's at the same config and precision (target <= 1.0);
  speedup_vs_saehd96   for the lean SAEHDBW row: SAEHD res-96 ms / lean ms (target >= 2.5);
  vs_amp        AMPBW ms_per_iter / AMP's at the same config (the full plan times both at res 96, inter 512, and at
                DFL's AMP defaults, res 224);
  *_cpu         the same two ratios from step_cpu_ms (robust to other load on the machine).
Sample rows: {"model": "SampleGeneratorFace", "sample_ms_per_batch", ...} from bench/samples.py; the 1-channel
row's `ratio_to_3ch` compares the two generators, and each row's `vs_saehd_iter` is its share of SAEHD's fastest
res-96 iteration (one src and one dst batch per iteration, made in background workers).
Every config runs in its own process (clean peak RSS), in `--rounds` alternating rounds; each row is the
config's least-disturbed round (`rounds_ms` lists all). `--quick` runs the res-96 trio once (< 3 min).
Faces: a real aligned faceset built from the public-domain photos (dlib), else centred crops of them.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DFL_MS = {("df-ud", 96): 1700.0, ("liae-ud", 128): 3300.0}
DIMS = dict(ae_dims=128, e_dims=64, d_dims=64, d_mask_dims=16)
LEAN = dict(ae_dims=96, e_dims=32, d_dims=32, d_mask_dims=16)
AMP_DIMS = dict(DIMS, inter_dims=512)   # (DFL's AMP default has inter_dims 4x ae_dims)
AMP_DFL = dict(ae_dims=256, inter_dims=1024, e_dims=64, d_dims=64, d_mask_dims=22)   # DFL's AMP defaults (res 224)


def spec(model: str, res: int, archi: str, dims: dict, precision: str = "auto", jit: bool = False,
         data_format: str = "auto") -> dict:
    return dict(model=model, resolution=res, archi=archi, channels=1 if model.endswith("BW") else 3,
                precision=precision, jit=jit, data_format=data_format, batch_size=4, **dims)


def plan(quick: bool, gpu: bool = False) -> list[dict]:
    """The configs to time; on a GPU the full plan also times both layouts with and without XLA, so that the
    defaults of `EngineConfig.resolved` can follow the fastest."""
    if quick:
        return [spec("SAEHD", 96, "df-ud", DIMS), spec("SAEHDBW", 96, "df-ud", DIMS),
                spec("SAEHDBW", 96, "df-ud", LEAN)]
    rows = [spec(m, 96, "df-ud", DIMS, p) for m in ("SAEHD", "SAEHDBW") for p in ("float32", "bfloat16")]
    rows += [spec("SAEHD", 96, "df-ud", DIMS, p, jit=True) for p in ("float32", "bfloat16")]
    if gpu:
        rows += [spec("SAEHD", 96, "df-ud", DIMS, "float32", jit, "NHWC") for jit in (False, True)]
    rows += [spec(m, 128, "liae-ud", DIMS, p) for m in ("SAEHD", "SAEHDBW") for p in ("float32", "bfloat16")]
    rows += [spec("SAEHDBW", 96, "df-ud", LEAN, p) for p in ("float32", "bfloat16")]
    rows += [spec(m, res, "df-udt", dims) for res, dims in ((96, AMP_DIMS), (224, AMP_DFL)) for m in ("AMP", "AMPBW")]
    return rows


def label(c: dict) -> str:
    """`res96 df-ud ae128 e64 d64 mask16 b4 bfloat16 NHWC` (+ ` jit`; AMP: `amp` and ` inter512` for the archi),
    from a resolved engine config."""
    archi = f"amp ae{c['ae_dims']} inter{c['inter_dims']}" if "inter_dims" in c else f"{c['archi']} ae{c['ae_dims']}"
    return (f"res{c['resolution']} {archi} e{c['e_dims']} d{c['d_dims']} "
            f"mask{c['d_mask_dims']} b{c['batch_size']} {c['precision']} {c['data_format']}"
            f"{' jit' if c['jit'] else ''}")


# ------------------------------------------------------------------------------------------ faces
def build_faces(folder: Path) -> Path | None:
    """A real aligned faceset (dlib landmarks on the sample photos); None when dlib is unavailable."""
    try:
        from facelib.sample_faceset import build_faceset
        return build_faceset(folder, size=256).dir
    except Exception as e:  # noqa: BLE001 - bench falls back to crops
        print(f"(faceset not built: {e}; using centred crops)", file=sys.stderr)
        return None


def crop_batch(res: int, channels: int, n: int) -> list:
    """[warped, target, mask, em] from centred crops of the sample photos (fallback faces)."""
    import cv2
    import numpy as np
    from core.sample_media import astronaut
    face = cv2.resize(astronaut()[45:195, 165:315], (res, res), interpolation=cv2.INTER_AREA)
    if channels == 1:
        face = cv2.cvtColor(face, cv2.COLOR_BGR2GRAY)[..., None]
    img = np.repeat(face[None].astype(np.float32) / 255.0, n, 0)
    mask = np.zeros((n, res, res, 1), np.float32)
    mask[:, res // 8:-res // 8, res // 8:-res // 8] = 1.0
    return [img, img.copy(), mask, np.zeros_like(mask)]


# ------------------------------------------------------------------------------------------ child
def run_child(cfg: dict, faceset: str | None, warmup: int, iters: int) -> dict:
    import numpy as np
    from models.amp_engine import AMPConfig, AMPEngine
    from models.saehd_engine import EngineConfig, SAEHDEngine

    config_cls, engine_cls = (AMPConfig, AMPEngine) if cfg["model"].startswith("AMP") else (EngineConfig, SAEHDEngine)
    engine_cfg = config_cls(**{k: v for k, v in cfg.items() if k != "model"}, seed=0)
    t0 = time.perf_counter()
    engine = engine_cls(engine_cfg)
    res, ch, bs = cfg["resolution"], cfg["channels"], cfg["batch_size"]
    gens = []
    if faceset:
        from samplelib.generator import SampleGeneratorFace
        from samplelib.loader import load_samples
        samples = load_samples(faceset, grayscale=ch == 1)
        gens = [SampleGeneratorFace(samples, bs, res, ch, "f", seed=i) for i in (1, 2)]
        fixed = (gens[0].next(), gens[1].next())
    else:
        fixed = (crop_batch(res, ch, bs), crop_batch(res, ch, bs))
    engine.train_step(*fixed)
    first_s = time.perf_counter() - t0
    for _ in range(warmup):
        engine.train_step(*fixed)
    step_ms, cpu_ms = [], []
    for _ in range(iters):
        t, c = time.perf_counter(), time.process_time()
        engine.train_step(*fixed)
        step_ms.append((time.perf_counter() - t) * 1000)
        cpu_ms.append((time.process_time() - c) * 1000)
    iter_ms = []
    if gens:
        for _ in range(warmup + iters):
            t = time.perf_counter()
            engine.train_step(gens[0].next(), gens[1].next())
            iter_ms.append((time.perf_counter() - t) * 1000)
        iter_ms = iter_ms[warmup:]
        for g in gens:
            g.close()
    row = dict(model=cfg["model"], config=label(engine.config.to_dict()),
               ms_per_iter=round(float(np.median(iter_ms or step_ms)), 1),
               step_ms=round(float(np.median(step_ms)), 1),
               step_cpu_ms=round(float(np.median(cpu_ms)), 1),
               peak_rss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
               params=engine.param_counts()["total"], first_step_s=round(first_s, 1),
               faces="faceset" if gens else "crops", load_avg=round(os.getloadavg()[0], 1))
    return row


# ------------------------------------------------------------------------------------------ parent
def add_ratios(rows: list[dict], configs: list[dict]) -> None:
    """Target ratios on wall time; the `_cpu` twins use step CPU time, which other jobs on the machine barely move."""
    by_key = {}
    for row, c in zip(rows, configs):
        if "ms_per_iter" not in row:
            continue
        by_key[(c["model"], c["resolution"], c["archi"], c["ae_dims"], c["precision"], c["jit"],
                c["data_format"])] = row
        dfl = DFL_MS.get((c["archi"], c["resolution"]))
        if c["model"] == "SAEHD" and dfl and c["ae_dims"] == 128:
            row["vs_dfl"] = round(row["ms_per_iter"] / dfl, 3)

    def ratio(name: str, row: dict, num: dict, den: dict) -> None:
        row[name] = round(num["ms_per_iter"] / den["ms_per_iter"], 3)
        row[name + "_cpu"] = round(num["step_cpu_ms"] / den["step_cpu_ms"], 3)

    for row, c in zip(rows, configs):
        if c["model"] not in ("SAEHDBW", "AMPBW") or "ms_per_iter" not in row:
            continue
        colour = c["model"][:-2]
        twin = by_key.get((colour, c["resolution"], c["archi"], c["ae_dims"], c["precision"], c["jit"],
                           c["data_format"]))
        if twin:
            ratio(f"vs_{colour.lower()}", row, row, twin)
        if c["ae_dims"] == 96:
            ref = by_key.get(("SAEHD", 96, "df-ud", 128, c["precision"], False, c["data_format"]))
            if ref:
                ratio("speedup_vs_saehd96", row, ref, row)


def saehd96_ms(rows: list[dict], configs: list[dict]) -> float | None:
    """SAEHD's fastest ms/iteration at the res-96 df-ud config (any precision or layout), None if not timed."""
    times = [row["ms_per_iter"] for row, c in zip(rows, configs) if "ms_per_iter" in row
             and (c["model"], c["resolution"], c["archi"], c["ae_dims"]) == ("SAEHD", 96, "df-ud", 128)]
    return min(times, default=None)


def sample_rows(faceset: Path | None, batches: int, saehd_ms_per_iter: float | None = None) -> list[dict]:
    """The res-96 generator rows; with SAEHD's res-96 ms/iteration each also says what share of one training
    iteration its two batches (src and dst, one worker each) cost: `vs_saehd_iter`."""
    if faceset is None:
        return []
    from bench.samples import measure_generator
    from samplelib.loader import load_samples
    samples = {c: load_samples(faceset, grayscale=c == 1) for c in (1, 3)}
    pair = measure_generator(samples, 96, 4, batches, workers=False)
    out = []
    for c in (3, 1):
        r = dict(model="SampleGeneratorFace", config=f"res96 b4 {c}ch",
                 sample_ms_per_batch=pair[c]["sample_ms_per_batch"])
        if "uncached_ms_per_batch" in pair[c]:
            r["uncached_ms_per_batch"] = pair[c]["uncached_ms_per_batch"]
        if saehd_ms_per_iter:
            r["vs_saehd_iter"] = round(2 * r["sample_ms_per_batch"] / saehd_ms_per_iter, 4)
        out.append(r)
    out[1]["ratio_to_3ch"] = round(out[1]["sample_ms_per_batch"] / out[0]["sample_ms_per_batch"], 3)
    return out


def run_config(c: dict, faceset: Path | None, iters: int, warmup: int) -> dict:
    cmd = [sys.executable, __file__, "--child", json.dumps(c), "--iters", str(iters), "--warmup", str(warmup)]
    if faceset:
        cmd += ["--faceset", str(faceset)]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    try:
        return json.loads(proc.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        return dict(model=c["model"], config=label(c), error=proc.stderr.strip()[-500:])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="Only the res-96 SAEHD/SAEHDBW/lean rows, few steps.")
    parser.add_argument("--iters", type=int, help="Timed iterations per config (default 12, quick 4).")
    parser.add_argument("--rounds", type=int, help="Runs of every config, best kept (default 2, quick 1).")
    parser.add_argument("--no-samples", action="store_true", help="Skip the sample generator rows.")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--faceset", help=argparse.SUPPRESS)
    parser.add_argument("--warmup", type=int, default=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    from core import interact
    interact.batch_mode()
    if args.child:
        print(json.dumps(run_child(json.loads(args.child), args.faceset, args.warmup, args.iters)))
        return 0
    iters = args.iters or (4 if args.quick else 12)
    rounds = args.rounds or (1 if args.quick else 2)
    if args.quick:
        configs = plan(True)
    else:  # (the GPU probe takes seconds: only the full plan has GPU rows)
        from core.leras.device import list_devices
        configs = plan(False, gpu=bool(list_devices()))
    with tempfile.TemporaryDirectory() as tmp:
        faceset = build_faces(Path(tmp) / "aligned")
        best: dict[int, dict] = {}
        for r in range(rounds):  # rounds alternate the configs; each keeps its least-disturbed round
            for i, c in enumerate(configs):
                row = run_config(c, faceset, iters, args.warmup)
                print(json.dumps(row), file=sys.stderr)
                seen = best.get(i, {}).get("rounds_ms", []) + [row.get("ms_per_iter")]
                if i not in best or row.get("ms_per_iter", 1e12) < best[i].get("ms_per_iter", 1e12):
                    best[i] = row
                best[i]["rounds_ms"] = seen
        rows = [best[i] for i in range(len(configs))]
        add_ratios(rows, configs)
        if not args.no_samples:
            rows += sample_rows(faceset, 20 if args.quick else 60, saehd96_ms(rows, configs))
    print(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
