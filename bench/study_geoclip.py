"""GeoCLIP's pretrained location encoder as the place side of retrieval.

    .venv/bin/pip install --no-deps geoclip       # the weights and the GPS gallery only
    .venv/bin/python bench/study_geoclip.py --config configs/cnn-world.json
    .venv/bin/python bench/study_geoclip.py --config configs/cnn-world.json \
        --held-out runs/features/lite0_int8.npz      # out of source, as the protocol

GeoCLIP (Vivanco et al., 2023) aligns a CLIP ViT-L image tower with a location
encoder (random Fourier features of the Equal Earth projection at three scales, an
MLP each, summed) trained on MP-16's 4.7M Flickr photos. The ``geoclip`` wheel ships
the location encoder's weights and a gallery of 100,000 coordinates; its image side
needs CLIP ViT-L, which cannot be had here. This study keeps the location encoder
frozen, trains an MLP from the config's frozen backbone features (read from the
training feature cache, encoded where missing) into its embedding space with
GeoCLIP's loss (image vs. the batch's places and a queue of gallery places,
place-balanced weights as in training), and answers the gallery coordinate (the 100K
and the training photos' places) most similar to the photo.

Prints acc@1/25/200/750/2500 km and GeoScore on all world val photos and per world set.
With ``--held-out`` (a ``geoscope train protocol --features`` file) each ``world`` source
is held out in turn as the protocol holds it out (trained on the training split of every
other set, measured on all of its photos), answered by the most similar place ("top")
and by the place holding the most of the softmax over the 512 most similar places
within 750 km ("mass within", as the shipped point), beside the medoid and 1-NN floors,
then the macro over sources.
The package is read as files (the weights and the CSV); it is not imported, so its
CLIP and pandas dependencies are not needed. No assertions: a study, not a test.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
from pathlib import Path

import numpy as np
import torch
from torch import nn

from geoscope_core.geo.balance import place_weights
from geoscope_core.geo.distance import haversine_km
from geoscope_core.metrics import accuracy_at, geoscore
from geoscope_core.training.baselines import frozen_features, medoid, nearest_neighbour
from geoscope_core.training.config import CnnConfig, load_config
from geoscope_core.training.data import load_samples
from geoscope_core.training.protocol import features_from_file, held_out_splits, split_features

#: Places the "mass within" answer weighs (the most similar to the photo) ...
TOP_PLACES = 512
#: ... and the distance (km) it counts their softmax mass within, as the shipped point.
WITHIN_KM = 750.0

# Equal Earth projection constants (Šavrič, Patterson and Jenny, 2018), as GeoCLIP uses.
_A1, _A2, _A3, _A4, _SCALE = 1.340264, -0.081106, 0.000893, 0.003796, 66.50336


def equal_earth(latlon: torch.Tensor) -> torch.Tensor:
    """[N, 2] degrees -> [N, 2] Equal Earth coordinates scaled as GeoCLIP feeds them."""
    lat, lon = torch.deg2rad(latlon[:, 0]), torch.deg2rad(latlon[:, 1])
    theta = torch.asin(math.sqrt(3.0) / 2 * torch.sin(lat))
    den = 3 * (9 * _A4 * theta**8 + 7 * _A3 * theta**6 + 3 * _A2 * theta**2 + _A1)
    x = 2 * math.sqrt(3.0) * lon * torch.cos(theta) / den
    y = _A4 * theta**9 + _A3 * theta**7 + _A2 * theta**3 + _A1 * theta
    return torch.stack((x, y), dim=1) * _SCALE / 180


class _Capsule(nn.Module):
    """One scale: Fourier features (fixed ``b``) and an MLP; names match the weights file."""

    def __init__(self) -> None:
        super().__init__()
        self.capsule = nn.Sequential(
            _Fourier(), nn.Linear(512, 1024), nn.ReLU(), nn.Linear(1024, 1024), nn.ReLU(),
            nn.Linear(1024, 1024), nn.ReLU(),
        )  # fmt: skip
        self.head = nn.Sequential(nn.Linear(1024, 512))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.capsule(x))


class _Fourier(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.b = nn.Parameter(torch.zeros(256, 2), requires_grad=False)

    def forward(self, v: torch.Tensor) -> torch.Tensor:
        vp = 2 * math.pi * v @ self.b.T
        return torch.cat((torch.cos(vp), torch.sin(vp)), dim=-1)


class LocationEncoder(nn.Module):
    """GeoCLIP's location encoder: (lat, lon) degrees [N, 2] -> [N, 512]."""

    def __init__(self) -> None:
        super().__init__()
        for i in range(3):
            self.add_module(f"LocEnc{i}", _Capsule())

    def forward(self, latlon: torch.Tensor) -> torch.Tensor:
        x = equal_earth(latlon)
        return sum(getattr(self, f"LocEnc{i}")(x) for i in range(3))


def geoclip_files() -> Path:
    spec = importlib.util.find_spec("geoclip")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("pip install --no-deps geoclip (its weights and gallery are read)")
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def load_location_encoder(folder: Path) -> LocationEncoder:
    enc = LocationEncoder()
    state = torch.load(folder / "weights" / "location_encoder_weights.pth", weights_only=True)
    enc.load_state_dict(state, strict=True)
    return enc.eval()


def encode_places(enc: LocationEncoder, latlon: np.ndarray, batch: int = 4096) -> torch.Tensor:
    with torch.no_grad():
        parts = [
            enc(torch.from_numpy(latlon[i : i + batch]).float())
            for i in range(0, len(latlon), batch)
        ]
    return nn.functional.normalize(torch.cat(parts), dim=-1)


def train_projection(
    feats: np.ndarray,
    latlon: np.ndarray,
    place_emb: torch.Tensor,
    enc: LocationEncoder,
    balance_km: float,
    epochs: int,
    queue: int,
    rng: np.random.Generator,
) -> nn.Module:
    """An MLP from frozen image features [N, F] into the location encoder's space, trained
    with GeoCLIP's loss on the photos' places ``latlon`` [N, 2] (degrees) against the
    batch's places and ``queue`` random gallery places, place-balanced weights."""
    train_emb = encode_places(enc, latlon)
    weights = place_weights(latlon[:, 0], latlon[:, 1], balance_km, 0.5)
    w_all = torch.from_numpy(weights / weights.mean()).float()
    proj = nn.Sequential(
        nn.Linear(feats.shape[1], 1024), nn.ReLU(), nn.Dropout(0.2), nn.Linear(1024, 512)
    )
    scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))
    opt = torch.optim.AdamW([*proj.parameters(), scale], lr=1e-3, weight_decay=1e-4)
    x_all = torch.from_numpy(feats).float()
    steps = math.ceil(len(feats) / 256)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs * steps)
    for epoch in range(epochs):
        proj.train()
        order = torch.from_numpy(rng.permutation(len(feats)))
        total = 0.0
        for k in range(steps):
            idx = order[k * 256 : (k + 1) * 256]
            extra = place_emb[torch.from_numpy(rng.integers(0, len(place_emb), queue))]
            img = nn.functional.normalize(proj(x_all[idx]), dim=-1)
            logits = scale.exp().clamp(max=100) * img @ torch.cat([train_emb[idx], extra]).T
            loss = nn.functional.cross_entropy(logits, torch.arange(len(idx)), reduction="none")
            loss = (loss * w_all[idx]).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item()
        if epoch % 10 == 9 or epoch == epochs - 1:
            print(f"  epoch {epoch + 1}: loss {total / steps:.3f}", flush=True)
    proj.eval()
    proj.scale = scale  # type: ignore[assignment]
    return proj


def answers(
    proj: nn.Module, feats: np.ndarray, places: np.ndarray, place_emb: torch.Tensor
) -> dict[str, np.ndarray]:
    """[N, 2] degrees per decoding: the most similar place ("top") and the place holding
    the most of the softmax over the ``TOP_PLACES`` most similar places within
    ``WITHIN_KM`` ("mass within"; the softmax at the trained logit scale)."""
    with torch.no_grad():
        img = nn.functional.normalize(proj(torch.from_numpy(feats).float()), dim=-1)
        sims = img @ place_emb.T
        top_sim, top_idx = sims.topk(TOP_PLACES, dim=1)
        post = torch.softmax(proj.scale.exp().clamp(max=100) * top_sim, dim=1).numpy()
    top_idx = top_idx.numpy()
    within = np.empty((len(feats), 2), np.float32)
    for i, (idx, p) in enumerate(zip(top_idx, post, strict=True)):
        ll = places[idx]
        d = np.asarray(haversine_km(ll[:, None, 0], ll[:, None, 1], ll[None, :, 0], ll[None, :, 1]))
        within[i] = ll[int(np.argmax((d <= WITHIN_KM) @ p))]
    return {"top": places[top_idx[:, 0]], "mass within": within}


def gallery_places(folder: Path, extra: np.ndarray) -> np.ndarray:
    gallery = np.loadtxt(folder / "gps_gallery" / "coordinates_100K.csv", delimiter=",",
                         skiprows=1, dtype=np.float32)  # fmt: skip
    return np.unique(np.concatenate([gallery, extra]), axis=0)


def line(name: str, e: np.ndarray) -> None:
    acc = " ".join(f"{100 * v:5.1f}" for v in accuracy_at(e).values())
    print(f"{name:28s} {len(e):5d}  {acc}  {geoscore(e):5.0f}")


def header() -> None:
    print(f"{'':28s} {'n':>5}  {'@1':>5} {'@25':>5} {'@200':>5} {'@750':>5} {'@2500':>5}  GS")


def held_out(args: argparse.Namespace, config: CnnConfig, rng: np.random.Generator) -> None:
    """Each world source held out in turn, as ``geoscope train protocol`` holds it out."""
    pool, pool_f, val, val_f = split_features(config, features_from_file(args.features))
    folder = geoclip_files()
    enc = load_location_encoder(folder)
    macro: dict[str, list[np.ndarray]] = {}
    for h in held_out_splits(pool, pool_f, val, val_f):
        name, train, test, test_f = h.name, h.train, h.test, h.test_f
        t_ll = np.array([[s.lat, s.lon] for s in train], dtype=np.float32)
        places = gallery_places(folder, t_ll)
        place_emb = encode_places(enc, places)
        print(f"holding out {name}: {len(train)} training photos, {len(test)} held out")
        proj = train_projection(
            h.train_f, t_ll, place_emb, enc, config.balance_km or 25.0,
            args.epochs, args.queue, rng,
        )  # fmt: skip
        lat = np.array([s.lat for s in test])
        lon = np.array([s.lon for s in test])
        med = medoid(train)
        nn1 = [train[i] for i in nearest_neighbour(h.train_f, test_f)]
        rows = answers(proj, test_f, places, place_emb)
        rows["floor: medoid"] = np.array([[med.lat, med.lon]] * len(test))
        rows["floor: 1-NN"] = np.array([[s.lat, s.lon] for s in nn1])
        header()
        for k, pred in rows.items():
            err = np.asarray(haversine_km(lat, lon, pred[:, 0], pred[:, 1]))
            line(f"{name} {k}", err)
            macro.setdefault(k, []).append(accuracy_at(err))
    print("macro over the held-out sources (acc %)")
    for k, accs in macro.items():
        cells = " ".join(f"@{t} {100 * np.mean([a[t] for a in accs]):5.1f}" for t in accs[0])
        print(f"  {k:26s} {cells}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", type=Path, required=True)
    ap.add_argument("--set", dest="overrides", action="append", default=[])
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--queue", type=int, default=4096, help="gallery places per step")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--held-out",
        dest="features",
        type=Path,
        help="hold each world source out in turn, on this protocol --features file",
    )
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    config = load_config("cnn", args.config, args.overrides)
    assert isinstance(config, CnnConfig)
    if args.features is not None:
        held_out(args, config, rng)
        return

    train_s = load_samples(config, config.train_split)
    val_s = [s for s in load_samples(config, config.val_split) if s.scope == "world"]
    train_f, val_f = frozen_features(config, train_s), frozen_features(config, val_s)
    t_ll = np.array([[s.lat, s.lon] for s in train_s], dtype=np.float32)
    folder = geoclip_files()
    places = gallery_places(folder, t_ll)
    enc = load_location_encoder(folder)
    place_emb = encode_places(enc, places)
    proj = train_projection(
        train_f, t_ll, place_emb, enc, config.balance_km or 25.0, args.epochs, args.queue, rng
    )
    pred = answers(proj, val_f, places, place_emb)["top"]
    lat = np.array([s.lat for s in val_s])
    lon = np.array([s.lon for s in val_s])
    err = np.asarray(haversine_km(lat, lon, pred[:, 0], pred[:, 1]))
    sets = np.array([s.set for s in val_s])
    print(f"{config.backbone} features -> GeoCLIP location space; {len(places)} gallery places")
    header()
    line("world", err)
    for s in sorted(set(sets)):
        line(s, err[sets == s])


if __name__ == "__main__":
    main()
