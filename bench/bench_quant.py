"""fp32 vs int8 for the default image encoder: speed, size and accuracy side by side.

    .venv/bin/python bench/bench_quant.py [--bundle geoscope-lite] [--checkpoint DIR]
        [--threads 2] [--max-val 0] [--json OUT.json]

The shipped bundle holds only its quantized graph, so the fp32 graph (and the
other variants) are re-exported from the checkpoint the bundle was built from
(``runs/<producer.checkpoint>`` unless ``--checkpoint`` says otherwise):

* fp32             the graph before quantization
* int8-qdq-all     static QDQ int8 calibrated like the bundle, every layer int8
                   (the shipped graph keeps its stem conv and heads in float32)
* int8-7bit        the shipped recipe with 7-bit weights (``reduce_range``), and
* int8-u8u8        with uint8 weights: both avoid the saturation of ONNX Runtime's
                   U8S8 kernels on x86 CPUs without VNNI (the CPU's flags are printed)
* int8-dynamic     dynamic int8 of every op ONNX Runtime supports (convolutions
                   become ConvInteger): shown because it is the obvious
                   alternative, not shipped
* fp16             float16 weights/activations
* shipped          the bundle's own image_encoder.onnx (static QDQ int8)

Speed: photos/s of the encoder alone on real val photos at batch 1 and 16,
``--threads`` intra-op threads (default 2, the target laptop). Accuracy: the
runtime's own decoding (``Predictor.decode``) on the val split. Prints a table;
no assertions (performance is reported, not tested).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def _session(path: Path, threads: int) -> Any:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def _throughput(sess: Any, pixels: np.ndarray, batch: int, min_s: float = 3.0) -> float:
    """Photos per second at ``batch``, after one warm-up run; runs for at least ``min_s``."""
    names = [o.name for o in sess.get_outputs()]
    sess.run(names, {"pixels": pixels[:batch]})
    done, start, i = 0, time.perf_counter(), 0
    while True:
        lo = (i * batch) % max(len(pixels) - batch + 1, 1)
        sess.run(names, {"pixels": pixels[lo : lo + batch]})
        done += batch
        i += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_s and done >= 2 * batch:
            return done / elapsed


def _cpu_flags() -> str:
    """The CPU's integer dot-product extensions (they decide ONNX Runtime's int8 kernels)."""
    try:
        flags = set(Path("/proc/cpuinfo").read_text().split())
    except OSError:
        return "CPU flags unknown"
    wanted = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8")
    return "CPU " + (" ".join(f for f in wanted if f in flags) or "without AVX2")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundle", default=None, help="bundle name/path (default: geoscope-lite)")
    parser.add_argument("--checkpoint", type=Path, default=None)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--max-val", type=int, default=0, help="val photos for accuracy (0 = all)")
    parser.add_argument("--speed-photos", type=int, default=64)
    parser.add_argument("--min-seconds", type=float, default=2.0, help="timing per cell")
    parser.add_argument("--rounds", type=int, default=3, help="timing rounds (best is kept)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    from geoscope_core.runtime.bundle import load_bundle
    from geoscope_core.runtime.predictor import Predictor
    from geoscope_core.training.checkpoint import load_checkpoint
    from geoscope_export import evaluate as ev
    from geoscope_export.bundle_writer import IMAGE_ENCODER
    from geoscope_export.onnx_export import export_image_encoder
    from geoscope_export.quantize import (
        convert_fp16,
        quantize_dynamic_all_int8,
        quantize_static_int8,
    )

    bundle = load_bundle(args.bundle)
    m = bundle.manifest
    checkpoint = args.checkpoint or REPO / "runs" / m.producer.get("checkpoint", "")
    if not (checkpoint / "model.safetensors").is_file():
        print(f"no checkpoint at {checkpoint} (pass --checkpoint)", file=sys.stderr)
        return 2
    model = load_checkpoint(checkpoint)
    val = ev.decode_records(ev.sample_records(ev.load_records(None, "val"), args.max_val), m.input)
    n_calib = int(m.quantization.get("calibration_images", 128))
    # calibrated as the export calibrates: one centre view of each photo
    calib = ev.decode_records(
        ev.sample_records(ev.load_records(None, "train"), n_calib), m.input.centre_view()
    )
    predictor = Predictor.load(bundle.path, provider="cpu", threads=args.threads)

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        fp32 = export_image_encoder(
            model.image_module(), m.input.size, model.image_output_names(), work / "fp32.onnx"
        )
        variants = {"fp32": fp32}
        quantize_static_int8(fp32, work / "static.onnx", calib.frames)
        variants["int8-qdq-all"] = work / "static.onnx"
        # the shipped recipe (stem and heads float) with the two ways around the U8S8
        # kernels' saturation on x86 CPUs without VNNI
        for name, flags in (
            ("int8-7bit", {"reduce_range": True}),
            ("int8-u8u8", {"unsigned_weights": True}),
        ):
            quantize_static_int8(fp32, work / f"{name}.onnx", calib.frames, float_heads=True,
                                 float_stem=True, **flags)  # fmt: skip
            variants[name] = work / f"{name}.onnx"
        quantize_dynamic_all_int8(fp32, work / "dynamic.onnx")
        variants["int8-dynamic"] = work / "dynamic.onnx"
        convert_fp16(fp32, work / "fp16.onnx")
        variants["fp16"] = work / "fp16.onnx"
        variants["shipped"] = bundle.file(IMAGE_ENCODER)
        speed_px = val.frames[: args.speed_photos]
        sessions = {name: _session(path, args.threads) for name, path in variants.items()}
        # round-robin, best of --rounds: other processes on a shared machine only slow
        # a run down, so the best round is the least disturbed one
        speed: dict[str, dict[int, float]] = {name: {1: 0.0, 16: 0.0} for name in variants}
        for _ in range(args.rounds):
            for name, sess in sessions.items():
                for batch in (1, 16):
                    tput = _throughput(sess, speed_px, batch, args.min_seconds)
                    speed[name][batch] = max(speed[name][batch], tput)
        for name, path in variants.items():
            outputs = ev.run_encoder(sessions[name], val.pixels, 16)
            decoded = ev.decode_with(
                predictor.decoder, predictor.decoder.logits(outputs, "embedding")
            )
            met = ev.metrics_for(decoded, val)
            world = val.scope == "world"
            sub = (
                ev.metrics_for(
                    ev.Decoded(
                        *(getattr(decoded, f)[world] for f in ev.Decoded.__dataclass_fields__)
                    ),
                    val.subset(world),
                )
                if world.any()
                else None
            )
            rows.append(
                {
                    "variant": name,
                    "size_mb": round(path.stat().st_size / 1e6, 2),
                    "photos_s_b1": round(speed[name][1], 1),
                    "photos_s_b16": round(speed[name][16], 1),
                    "acc_km": met["acc_km"],
                    "country_acc": met["country_acc"],
                    "median_km": round(met["median_km"], 1),
                    "world_acc_km": sub["acc_km"] if sub else None,
                }
            )

    import onnxruntime

    ort_version = onnxruntime.__version__
    base = rows[0]
    print(
        f"bundle {bundle.model_id}; {len(val)} val photos; {args.threads} threads; "
        f"best of {args.rounds} rounds; onnxruntime {ort_version} CPU; {_cpu_flags()}"
    )
    header = (
        f"{'variant':<16} {'MB':>6} {'b1 ph/s':>8} {'b16 ph/s':>9} {'x fp32':>7} "
        f"{'@200':>6} {'@750':>6} {'@2500':>6} {'country':>8} {'med km':>8} "
        f"{'world@750':>10} {'world@2500':>11}"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        acc = r["acc_km"]
        sub = r["world_acc_km"] or {}
        print(
            f"{r['variant']:<16} {r['size_mb']:>6.2f} {r['photos_s_b1']:>8.1f} "
            f"{r['photos_s_b16']:>9.1f} {r['photos_s_b16'] / base['photos_s_b16']:>7.2f} "
            f"{acc['200']:>6.3f} {acc['750']:>6.3f} {acc['2500']:>6.3f} "
            f"{(r['country_acc'] or 0):>8.3f} {r['median_km']:>8.0f} "
            f"{sub.get('750', float('nan')):>10.3f} {sub.get('2500', float('nan')):>11.3f}"
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
