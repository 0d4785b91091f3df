"""The features the out-of-source protocol trains heads on, from a bundle's own encoder.

    .venv/bin/python bench/study_oos_features.py --bundle geoscope_core/models/geoscope-lite \
        --out runs/features/lite0_int8.npz
    .venv/bin/geoscope train protocol --config configs/cnn-world.json \
        --features runs/features/lite0_int8.npz --out runs/loso

Encoding every photo of ``../shared/data/geo`` with the PyTorch backbone takes close to
an hour on two busy CPU cores; the bundle's int8 ONNX encoder does it in about ten
minutes. The study adds one output to the encoder graph: the tensor its ``embedding``
output normalises, i.e. the pooled backbone features the classifier heads read (the
graph's heads see exactly these values), and writes ``paths`` and ``features``
(float16 [N, F]) for ``geoscope train protocol --features``. Centre view only.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np


def main() -> None:
    import onnx
    import onnxruntime as ort

    from geoscope_core.records import shared_geo_records
    from geoscope_core.runtime.bundle import load_bundle
    from geoscope_core.runtime.images import preprocess
    from geoscope_core.runtime.manifest import IMAGE_ENCODER

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True, help=".npz to write")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    bundle = load_bundle(args.bundle)
    spec = bundle.manifest.input.centre_view()
    model = onnx.load(str(args.bundle / IMAGE_ENCODER))
    producers = {o: n for n in model.graph.node for o in n.output}
    pooled = producers["embedding"].input[0]  # embedding = pooled / ||pooled||
    model.graph.output.append(
        onnx.helper.make_tensor_value_info(pooled, onnx.TensorProto.FLOAT, None)
    )
    options = ort.SessionOptions()
    options.intra_op_num_threads = args.threads
    session = ort.InferenceSession(
        model.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )
    records = shared_geo_records()
    paths, feats = [], []
    start = time.perf_counter()
    for i in range(0, len(records), 32):
        chunk = records[i : i + 32]
        pixels = np.stack([preprocess(r.path, spec)[0] for r in chunk])
        out = session.run([pooled], {"pixels": pixels})[0].reshape(len(chunk), -1)
        feats.append(out.astype(np.float16))
        paths += [str(r.path) for r in chunk]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    np.savez(args.out, paths=np.array(paths), features=np.concatenate(feats))
    took = time.perf_counter() - start
    print(f"{len(paths)} photos, {feats[0].shape[1]} features, {len(paths) / took:.1f} photos/s")


if __name__ == "__main__":
    main()
