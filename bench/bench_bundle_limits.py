"""What hostile bundles cost before they are refused (printed, never asserted).

Builds, from a copy of the shipped default bundle, bundles a careless or hostile
sender could hand over, then loads each in a fresh process as scan does
(``load_bundle`` then ``Decoder.from_bundle``) and prints per case: the outcome
(``loaded`` or the exception's type and first line), the process's peak RSS, the
wall time, and what the bundle cache holds afterwards.

    python bench/bench_bundle_limits.py [--gallery-gb 1.0] [--zip-pad-gb 1.1]
    python bench/bench_bundle_limits.py --code /tmp/before   # another checkout's code

``--code DIR`` runs the loads with ``DIR`` first on PYTHONPATH (e.g. a ``git
archive`` of an older commit), so both sides are measured by the same cases.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "geoscope_core" / "models" / "geoscope-lite"

CHILD = """
import json, resource, sys, time
t = time.perf_counter()
outcome, detail = "loaded", ""
try:
    from geoscope_core.runtime.bundle import load_bundle
    from geoscope_core.runtime.decoding import Decoder
    Decoder.from_bundle(load_bundle(sys.argv[1]))
except Exception as e:
    outcome, detail = type(e).__name__, (str(e).strip().splitlines() or [""])[-1][:110]
import geoscope_core
print(json.dumps({"code": geoscope_core.__file__, "outcome": outcome, "detail": detail,
                  "s": time.perf_counter() - t,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def _rehash(root: Path, edit: dict | None = None, raw_tail: str | None = None) -> None:
    doc = json.loads((root / "manifest.json").read_text())
    doc.update(edit or {})
    for rel in doc["files"]:
        from hashlib import sha256

        h = sha256()
        with open(root / rel, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        doc["files"][rel] = h.hexdigest()
    text = json.dumps(doc)
    if raw_tail is not None:  # text no json.dumps would write (deep nesting, huge numbers)
        text = text.rstrip()[:-1] + ", " + raw_tail + "}"
    (root / "manifest.json").write_text(text)


def _npy_header(shape: tuple[int, ...], dtype: str) -> bytes:
    buf = io.BytesIO()
    descr = np.lib.format.dtype_to_descr(np.dtype(dtype))
    np.lib.format.write_array_header_1_0(
        buf, {"descr": descr, "fortran_order": False, "shape": shape}
    )
    return buf.getvalue()


def _write_zeros(zf: zipfile.ZipFile, name: str, header: bytes, n: int) -> None:
    info = zipfile.ZipInfo(name)
    info.compress_type = zipfile.ZIP_DEFLATED
    with zf.open(info, "w", force_zip64=True) as out:
        out.write(header)
        chunk = bytes(16 << 20)
        left = n
        while left:
            out.write(chunk[: min(left, len(chunk))])
            left -= min(left, len(chunk))


def _gallery_with(root: Path, embeddings: tuple[bytes, int] | bytes) -> None:
    """Replace the gallery's embeddings member: raw bytes, or (header, zero count) deflated."""
    src = root / "gallery.npz"
    with zipfile.ZipFile(src) as zf:
        keep = {i.filename: zf.read(i) for i in zf.infolist() if i.filename != "embeddings.npy"}
    with zipfile.ZipFile(src, "w") as zf:
        for name, data in keep.items():
            zf.writestr(name, data)
        if isinstance(embeddings, bytes):
            zf.writestr("embeddings.npy", embeddings)
        else:
            _write_zeros(zf, "embeddings.npy", *embeddings)


def build_cases(tmp: Path, gallery_gb: float, zip_pad_gb: float) -> dict[str, Path]:
    cases: dict[str, Path] = {}

    def copy(name: str) -> Path:
        dst = tmp / name
        shutil.copytree(SHIPPED, dst)
        cases[name] = dst
        return dst

    copy("intact-copy")
    nan = copy("temperature-nan")
    doc = json.loads((nan / "manifest.json").read_text())
    doc["temperature"] = float("nan")
    (nan / "manifest.json").write_text(json.dumps(doc))
    g = copy("gallery-zip-bomb")
    dim = 256
    n = int(gallery_gb * (1 << 30)) // (2 * dim)
    _gallery_with(g, (_npy_header((n, dim), "<f2"), n * dim * 2))
    _rehash(g)
    lie = copy("gallery-header-12GB")
    n12 = (12 << 30) // (2 * dim)
    _gallery_with(lie, _npy_header((n12, dim), "<f2") + bytes(4096))
    _rehash(lie)
    deep = copy("manifest-nested-100k")
    _rehash(deep, raw_tail='"deep": ' + "[" * 100_000 + "]" * 100_000)
    huge = copy("temperature-400-digits")
    doc = json.loads((huge / "manifest.json").read_text())
    doc["temperature"] = "@@"
    (huge / "manifest.json").write_text(json.dumps(doc).replace('"@@"', "1" + "0" * 400))
    z = tmp / "bundle-zip-bomb.zip"
    with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in sorted(SHIPPED.rglob("*")):
            if p.is_file():
                zf.write(p, p.relative_to(SHIPPED).as_posix())
        _write_zeros(zf, "pad.bin", b"", int(zip_pad_gb * 1e9))
    cases["bundle-zip-bomb"] = z
    return cases


def _du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.exists() else 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--gallery-gb", type=float, default=1.0, help="the gallery bomb's content")
    ap.add_argument("--zip-pad-gb", type=float, default=1.1, help="the bundle zip bomb's pad")
    ap.add_argument("--code", type=Path, default=None, help="checkout whose code loads")
    args = ap.parse_args()
    env = dict(os.environ)
    if args.code:
        env["PYTHONPATH"] = f"{args.code.resolve()}:{env.get('PYTHONPATH', '')}"
    with tempfile.TemporaryDirectory(prefix="bench-limits-") as d:
        tmp = Path(d)
        t = time.perf_counter()
        cases = build_cases(tmp / "cases", args.gallery_gb, args.zip_pad_gb)
        print(f"built {len(cases)} cases in {time.perf_counter() - t:.1f} s")
        print(f"{'case':24s} {'file MB':>8s} {'outcome':22s} {'peak RSS MB':>11s} "
              f"{'s':>6s} {'cache MB':>8s}  detail")  # fmt: skip
        for name, path in cases.items():
            cache = tmp / f"cache-{name}"
            run_env = {**env, "GEOSCOPE_CACHE_DIR": str(cache)}
            proc = subprocess.run(
                [sys.executable, "-c", CHILD, str(path)],
                env=run_env,
                cwd=tmp,  # not the checkout: `python -c` puts the working folder first
                capture_output=True,
                text=True,
                check=False,
            )
            size = path.stat().st_size if path.is_file() else _du(path)
            try:
                r = json.loads(proc.stdout.strip().splitlines()[-1])
            except (IndexError, ValueError):
                tail = (proc.stderr.strip().splitlines() or ["?"])[-1][:110]
                r = {"outcome": f"died rc={proc.returncode}", "detail": tail, "s": 0, "rss_mb": 0}
            if "code" in r and name == next(iter(cases)):
                print(f"code loaded from {Path(r['code']).parent}")
            print(
                f"{name:24s} {size / 1e6:8.1f} {r['outcome'][:22]:22s} {r['rss_mb']:11.0f} "
                f"{r['s']:6.2f} {_du(cache) / 1e6:8.1f}  {r['detail']}"
            )
            shutil.rmtree(cache, ignore_errors=True)


if __name__ == "__main__":
    main()
