"""The one placement model: a folder's photos placed together, as a trip.

Every photo brings its evidence as hypotheses (see ``likelihood.py``): a camera fix or
a user's placement (``fixed``: never moved), a track position, the user's other GPS
photos, the model's candidates and gallery matches. The photos of one device (camera
make, model and serial), in capture-time order, form a chain: between two consecutive
photos ``dt`` seconds apart the photographer moved a distance ``d`` with probability

    (1 - tau) * [(1 - phi) * ground(d; dt) + phi * flight(d; dt)] + tau * anywhere

with ``ground``/``flight`` exponential kernels of scale ``base_km + speed * dt`` (driving
and flying speeds), ``phi`` the share of flights (growing to ``flight_share`` over
``flight_after_s``), and ``tau`` the chance the two photos are unrelated ("teleport"):
``min_teleport`` for photos seconds apart, growing with the gap (0.98 after a day)
to 1 after ``break_s`` (no constraint after a long break). The places considered are the
hypotheses of the photo's chain-mates within ``window`` photos either way; forward-
backward over them is exact and gives each photo its posterior. A photo keeps its own
best hypothesis when the posterior's best place lies within that hypothesis's radius;
otherwise it follows its trip-mates, and its result says so ("6 photos of 14 May agree:
Kyoto"); where the trip's photos clearly agree on a country (see ``TravelModel``), a
photo placed elsewhere moves into it. So camera GPS wins (fixed), a lone photo keeps
its own estimate (no chain), a guess among trip-mates is pulled to them, and photos
days apart are independent.

Photos without a capture time or a known device are placed alone (their own
evidence).
"""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from geoscope_core.errors import ConfigError
from geoscope_core.evidence.placement import slerp
from geoscope_core.geo.distance import EARTH_RADIUS_KM, to_unit_vectors
from geoscope_core.placement.likelihood import EARTH_KM2, NEVER_SURE, distance_km
from geoscope_core.prediction import Source
from geoscope_core.words import duration

log = logging.getLogger(__name__)

#: Photos whose best places lie within this (km, or their radius if smaller) agree.
AGREE_KM = 100.0
#: Walking speed (km/s): how far a photo may be from a fix it follows, per second.
WALKING_KM_S = 0.0015


@dataclass(frozen=True)
class TravelModel:
    """How far a photographer travels between two photos (see the module docstring).

    ``base_km`` the spread of one spot; ``ground_km_h``/``flight_km_h`` speeds;
    ``flight_share`` the largest share of flights, reached after ``flight_after_s``;
    ``min_teleport`` the chance two photos seconds apart are unrelated, growing with
    the gap as ``1 - (1 - min_teleport) * exp(-dt / teleport_scale_s)`` (0.98 after a
    day with the defaults); ``break_s`` the gap after which photos are unrelated;
    ``anchor_window_s`` how long a fixed photo (camera GPS, a user's placement) holds
    its chain-mates (0: never); ``window`` the chain-mates whose places each photo
    considers, either way; ``model_power`` the exponent of the likelihood of a photo
    with the model's candidates among its evidence (below 1: the model's guesses are
    not independent and often over-sure, so a few of them never outweigh a fix or the
    travel model); ``model_radius_km`` the widest a model candidate's likelihood
    spreads (its own radius, at most this); ``same_place_km`` how near the posterior's
    best place must be to a photo's own estimate (or within its radius, if smaller)
    for the photo to keep it; ``follow_odds`` how many times likelier the posterior
    must make another place than the photo's own estimate for the photo to follow it
    (a photo whose own evidence is vague does not drift on a hint). ``follow_odds`` and
    ``teleport_scale_s`` were chosen on ``bench/bench_trips.py``: at 1.0 the mixed
    folders' photos drifted to their neighbours a day away (-1.7 points at 25 km).

    Trip-mates also agree on a country (``country_odds``; 0: never): a second, exact
    forward-backward over the countries of the chain's places, each photo voting for
    its own estimate's country (every other one ``country_floor`` times one minus the
    estimate's confidence as likely: a sure photo holds its country), two photos ``dt``
    apart in the same country with probability ``exp(-dt / country_scale_s)``. Where
    the trip's country has a posterior of ``country_min`` or more and is
    ``country_odds`` times likelier than the chosen place's, the photo is placed in
    that country (its own estimate if there, else the likeliest place there). A vote,
    not the candidates' summed weights: the decoder's candidates are leaf cells, and
    their sum per country favours countries of many small cells (on the val photos it
    names the right country less often than the best candidate alone, 21% against 28%
    on road trips). They were chosen on ``bench/bench_trips.py``
    (val; road trips' country +6.9 points without, +11.0 with); ``country_floor`` is
    not the val's best (0.2: +15.8) but the lowest that leaves the real trips as they
    were: at 0.2 a 16-photo day in Rome whose scattered guesses named Germany 3 times
    went to Germany (real trips -12 points at 750 km)."""

    base_km: float = 1.0
    ground_km_h: float = 80.0
    flight_km_h: float = 900.0
    flight_share: float = 0.2
    flight_after_s: float = 3 * 3600.0
    min_teleport: float = 1e-4
    teleport_scale_s: float = 6 * 3600.0
    break_s: float = 3 * 86400.0
    anchor_window_s: float = 300.0
    window: int = 8
    model_power: float = 0.5
    country_odds: float = 2.0
    country_floor: float = 0.4
    country_scale_s: float = 86400.0
    country_min: float = 0.4
    model_radius_km: float = math.inf
    same_place_km: float = 25.0
    follow_odds: float = 1.1

    def __post_init__(self) -> None:
        positive = (
            "base_km",
            "ground_km_h",
            "flight_km_h",
            "flight_after_s",
            "teleport_scale_s",
            "break_s",
        )
        for name in positive:
            v = getattr(self, name)
            if not (v > 0 and math.isfinite(v)):
                raise ConfigError(f"{name} must be a finite number > 0, got {v}")
        if not (0 <= self.flight_share <= 1 and 0 < self.min_teleport <= 1):
            raise ConfigError("flight_share must be in [0, 1], min_teleport in (0, 1]")
        if not (self.anchor_window_s >= 0 and 1 <= self.window <= 64):
            raise ConfigError("anchor_window_s must be >= 0, window in 1..64")
        if not (self.model_radius_km > 0 and self.same_place_km > 0):
            raise ConfigError("model_radius_km and same_place_km must be > 0")
        if not self.follow_odds >= 1:
            raise ConfigError(f"follow_odds must be >= 1, got {self.follow_odds}")
        if not (self.country_odds >= 0 and 0 < self.country_floor <= 1):
            raise ConfigError("country_odds must be >= 0, country_floor in (0, 1]")
        if not 0 <= self.country_min <= 1:
            raise ConfigError(f"country_min must be in [0, 1], got {self.country_min}")
        if not (self.country_scale_s > 0 and math.isfinite(self.country_scale_s)):
            raise ConfigError(f"country_scale_s must be > 0, got {self.country_scale_s}")
        if not 0 < self.model_power <= 1:
            raise ConfigError(f"model_power must be in (0, 1], got {self.model_power}")

    def teleport(self, dt_s: float) -> float:
        """The chance (0-1) two photos ``dt_s`` seconds apart are unrelated."""
        if abs(dt_s) >= self.break_s:
            return 1.0
        return 1.0 - (1.0 - self.min_teleport) * math.exp(-abs(dt_s) / self.teleport_scale_s)

    def transition(self, d_km: np.ndarray, dt_s: float) -> np.ndarray:
        """Row-stochastic [A, B] moves between places ``d_km`` [A, B] apart in ``dt_s``."""
        dt = abs(dt_s)
        tau = self.teleport(dt)
        phi = self.flight_share * min(dt / self.flight_after_s, 1.0)
        b = d_km.shape[1]
        out = np.full(d_km.shape, tau / b)
        if tau >= 1.0:
            return out
        for share, speed in ((1.0 - phi, self.ground_km_h), (phi, self.flight_km_h)):
            if share <= 0:
                continue
            # from each row's nearest place: far rows would underflow to 0 / 0
            near = d_km - d_km.min(axis=1, keepdims=True)
            k = np.exp(near * (-1.0 / (self.base_km + speed * dt / 3600.0)))
            k *= (1.0 - tau) * share / k.sum(axis=1, keepdims=True)
            out += k
        return out


@dataclass(frozen=True)
class Hypothesis:
    """One place a photo's evidence offers: ``lat``/``lon`` degrees, ``radius_km``,
    ``weight`` its probability (0-1), ``source`` what it comes from, ``place`` its name
    ("Kyoto"; "" unknown), ``label`` the evidence in words ("track, 14 s from a fix"),
    ``country_code`` the country it lies in ("" unknown)."""

    lat: float
    lon: float
    radius_km: float
    weight: float
    source: Source
    place: str = ""
    label: str = ""
    country_code: str = ""


@dataclass(frozen=True)
class PhotoEvidence:
    """One photo's evidence: ``device`` (camera make, model and serial; "" unknown),
    ``time_s`` its capture time in seconds on its device's clock (NaN unknown), ``day``
    the date in words ("14 May"), ``hypotheses`` (best first; empty: no evidence),
    ``fixed`` whether its first hypothesis is certain (camera GPS, a user's placement)."""

    device: str
    time_s: float
    hypotheses: tuple[Hypothesis, ...]
    fixed: bool = False
    day: str = ""


@dataclass(frozen=True)
class Placed:
    """A photo's posterior: ``lat``/``lon`` degrees, ``radius_km``, ``confidence`` 0-1,
    ``source``, ``reason`` in words; ``own`` whether it is the photo's own best
    hypothesis; ``mates`` the photos of its trip (itself included) that agree on it
    (0: placed alone)."""

    lat: float
    lon: float
    radius_km: float
    confidence: float
    source: Source
    reason: str
    own: bool = True
    mates: int = 0


@dataclass
class _Pool:
    """The places of one chain: arrays [C] and, per place, the photos offering it."""

    lat: np.ndarray
    lon: np.ndarray
    radius: np.ndarray
    hyp: list[tuple[int, int]]  # (photo, hypothesis) of each place's first offer
    origins: list[list[int]] = field(default_factory=list)
    own: list[int] = field(default_factory=list)  # the place of each photo's best hypothesis
    country: list[str] = field(default_factory=list)  # the country code of each place


class TripPlacer:
    """Places a folder's photos together; used by the scan and the app."""

    def __init__(self, travel: TravelModel | None = None) -> None:
        self.travel = travel or TravelModel()

    def place(self, photos: Sequence[PhotoEvidence]) -> list[Placed | None]:
        """Each photo's posterior (None for a photo without any hypothesis)."""
        out: list[Placed | None] = [_alone(p) for p in photos]
        for chain in self._chains(photos):
            if len(chain) > 1:
                self._place_chain([photos[i] for i in chain], chain, out)
        return out

    # -- chains ------------------------------------------------------------------------
    def _chains(self, photos: Sequence[PhotoEvidence]) -> list[list[int]]:
        """Indices of each device's timed photos in time order, cut where nothing links
        two neighbours (a gap of ``break_s`` or more; a fixed photo beyond its window)."""
        by_dev: dict[str, list[int]] = {}
        for i, p in enumerate(photos):
            if p.device and math.isfinite(p.time_s) and p.hypotheses:
                by_dev.setdefault(p.device, []).append(i)
        tm = self.travel
        chains = []
        for idx in by_dev.values():
            idx.sort(key=lambda i: photos[i].time_s)
            cur = [idx[0]]
            for a, b in itertools.pairwise(idx):
                dt = photos[b].time_s - photos[a].time_s
                anchor = photos[a].fixed or photos[b].fixed
                cut = dt >= tm.break_s or (anchor and dt > tm.anchor_window_s)
                if photos[a].fixed and photos[b].fixed:
                    cut = True  # two fixes tell each other nothing
                if cut:
                    chains.append(cur)
                    cur = []
                cur.append(b)
            chains.append(cur)
        return chains

    def _pool(self, chain: Sequence[PhotoEvidence]) -> _Pool:
        """Every hypothesis of the chain as a place, wide ones (model candidates) merged
        when they fall in the same 0.05-degree square."""
        lat: list[float] = []
        lon: list[float] = []
        rad: list[float] = []
        hyp: list[tuple[int, int]] = []
        origins: list[list[int]] = []
        own: list[int] = []
        country: list[str] = []
        seen: dict[tuple[int, int], int] = {}
        for i, p in enumerate(chain):
            for k, h in enumerate(p.hypotheses):
                key = None
                if h.radius_km >= 5.0:
                    key = (round(h.lat / 0.05), round(h.lon / 0.05))
                    if key in seen:
                        origins[seen[key]].append(i)
                        if k == 0:
                            own.append(seen[key])
                        continue
                if key is not None:
                    seen[key] = len(lat)
                if k == 0:
                    own.append(len(lat))
                lat.append(h.lat)
                lon.append(h.lon)
                rad.append(max(h.radius_km, 0.01))
                hyp.append((i, k))
                origins.append([i])
                country.append(h.country_code)
        return _Pool(np.array(lat), np.array(lon), np.array(rad), hyp, origins, own, country)

    def _place_chain(
        self, chain: list[PhotoEvidence], index: list[int], out: list[Placed | None]
    ) -> None:
        n, tm = len(chain), self.travel
        pool = self._pool(chain)
        # the places each photo considers: those its chain-mates within the window offer
        offers: list[list[int]] = [[] for _ in range(n)]
        for c, og in enumerate(pool.origins):
            for o in og:
                offers[o].append(c)
        states = []
        for i in range(n):
            near = range(max(i - tm.window, 0), min(i + tm.window + 1, n))
            states.append(np.unique(np.array([c for o in near for c in offers[o]], np.int64)))
        xyz = to_unit_vectors(pool.lat, pool.lon)
        emit = [self._emission(chain[i], pool.own[i], pool, states[i], tm) for i in range(n)]
        trans = []
        for i in range(n - 1):
            a, b = states[i], states[i + 1]
            cos = np.clip(xyz[a] @ xyz[b].T, -1.0, 1.0)
            d = EARTH_RADIUS_KM * np.arccos(cos)  # great-circle km, one product per step
            trans.append(tm.transition(d, chain[i + 1].time_s - chain[i].time_s))
        # forward-backward, each message scaled to sum 1
        alpha = [emit[0] / emit[0].sum()]
        for i in range(1, n):
            f = (alpha[-1] @ trans[i - 1]) * emit[i]
            alpha.append(f / max(f.sum(), 1e-300))
        beta = [np.ones(len(states[-1]))]
        for i in range(n - 2, -1, -1):
            bk = trans[i] @ (emit[i + 1] * beta[0])
            beta.insert(0, bk / max(bk.sum(), 1e-300))
        post = []
        for i in range(n):
            g = alpha[i] * beta[i]
            post.append(g / max(g.sum(), 1e-300))
        best = [int(states[i][int(np.argmax(post[i]))]) for i in range(n)]
        countries = self._countries(chain) if tm.country_odds > 0 else None
        days: dict[str, list[int]] = {}
        for i in range(n):
            days.setdefault(chain[i].day, []).append(best[i])
        by_day = {d: np.array(b, np.int64) for d, b in days.items()}
        for i in range(n):
            if chain[i].fixed:
                continue
            cc = countries[i] if countries is not None else None
            out[index[i]] = self._decide(chain, i, pool, states[i], post[i], best, by_day, cc)

    @staticmethod
    def _emission(
        p: PhotoEvidence, own: int, pool: _Pool, states: np.ndarray, tm: TravelModel
    ) -> np.ndarray:
        """Likelihood ratio against knowing nothing [S] of photo ``p`` at ``states``
        (to ``tm.model_power`` where the model's candidates are among its evidence;
        scaled so its largest is 1). The place of its best hypothesis (``own``) is its
        mode: alone, a photo keeps the estimate it was given (a decoder's choice need
        not be where the mixture of its candidates is densest)."""
        lat, lon = pool.lat[states], pool.lon[states]
        if p.fixed:
            h = p.hypotheses[0]
            d = distance_km(lat, lon, h.lat, h.lon)
            return np.where(d <= 3 * max(h.radius_km, 0.01), 1.0, 0.0)
        hs = p.hypotheses
        w = np.array([max(h.weight, 0.0) for h in hs])
        w *= min(1.0, (1.0 - NEVER_SURE) / max(float(w.sum()), 1e-12))
        r = np.array(
            [
                max(min(h.radius_km, tm.model_radius_km), 0.01)
                if h.source is Source.MODEL
                else max(h.radius_km, 0.01)
                for h in hs
            ]
        )
        d = distance_km(
            lat[:, None], lon[:, None], np.array([h.lat for h in hs]), np.array([h.lon for h in hs])
        )
        dens = (w / (2 * math.pi * r**2) * np.exp(-0.5 * (d / r) ** 2)).sum(axis=1)
        like = (dens + (1.0 - w.sum()) / EARTH_KM2) * EARTH_KM2
        if any(h.source is Source.MODEL for h in hs):
            like = like**tm.model_power
        like[states == own] = like.max()
        return like / like.max()

    def _decide(
        self,
        chain: list[PhotoEvidence],
        i: int,
        pool: _Pool,
        states: np.ndarray,
        post: np.ndarray,
        best: list[int],
        by_day: dict[str, np.ndarray],
        countries: dict[str, float] | None = None,
    ) -> Placed:
        p = chain[i]
        c = best[i]
        own = p.hypotheses[0]
        mine = states == pool.own[i]
        if mine.any() and float(post[mine][0]) * self.travel.follow_odds >= float(post.max()):
            c = pool.own[i]  # not clearly elsewhere: it keeps its own
        if countries:
            c = self._country_vote(i, pool, states, post, c, countries)
        radius = float(pool.radius[c])
        near = distance_km(pool.lat[states], pool.lon[states], pool.lat[c], pool.lon[c])
        mass = float(post[near <= max(radius, 1.0)].sum())
        same_day = by_day[p.day]
        agree = int(
            (
                distance_km(pool.lat[same_day], pool.lon[same_day], pool.lat[c], pool.lon[c])
                <= min(max(radius, 1.0), AGREE_KM)
            ).sum()
        )
        keep_km = min(own.radius_km, self.travel.same_place_km)
        if float(distance_km(own.lat, own.lon, pool.lat[c], pool.lon[c])) <= keep_km:
            # its own evidence stands; its trip-mates agree with it
            return Placed(
                own.lat, own.lon, own.radius_km, own.weight, own.source, own.label, True, agree
            )
        j, k = pool.hyp[c]
        h = chain[j].hypotheses[k]
        dt = abs(chain[j].time_s - p.time_s)
        if chain[j].fixed or h.source in (Source.TRACK, Source.NEIGHBORS):
            between = self._between_fixes(chain, i)
            if between is not None:
                return between
            # a fix of a trip-mate: as far as one walks in the time between
            radius = h.radius_km + WALKING_KM_S * dt
            source = Source.TRACK if h.source is Source.TRACK else Source.NEIGHBORS
            what = "your GPS photos" if source is Source.NEIGHBORS else "track"
            reason = f"{what}: same camera, {duration(dt)} from a photo placed by it"
            if chain[j].fixed and h.source is Source.USER:
                reason = f"placed by you: same camera, {duration(dt)} from a photo you placed"
            confidence = min(mass, 0.95) * math.exp(-dt / 86400.0)
        else:
            source = h.source
            where = h.place or f"{h.lat:.2f}, {h.lon:.2f}"
            day = f" of {p.day}" if p.day else ""
            reason = f"{agree} photos{day} agree: {where}"
            confidence = min(mass, 1.0 - NEVER_SURE) * max(h.weight, own.weight)
        return Placed(h.lat, h.lon, radius, float(confidence), source, reason, False, agree)

    def _countries(self, chain: list[PhotoEvidence]) -> list[dict[str, float]]:
        """Each photo's posterior over the countries of the chain's places (see
        ``TravelModel``): forward-backward where each photo votes for its own
        estimate's country."""
        tm = self.travel
        names = sorted({h.country_code for p in chain for h in p.hypotheses} - {""})
        if not names:
            return [{} for _ in chain]
        at = {cc: k for k, cc in enumerate(names)}
        m = len(names)
        emit = np.full((len(chain), m), tm.country_floor)
        for i, p in enumerate(chain):
            h = p.hypotheses[0]
            if h.country_code:
                emit[i] *= 1.0 - min(max(h.weight, 0.0), 1.0 - NEVER_SURE)
                emit[i, at[h.country_code]] = 1.0
        stay = [
            math.exp(-abs(b.time_s - a.time_s) / tm.country_scale_s)
            for a, b in itertools.pairwise(chain)
        ]
        alpha = [emit[0] / emit[0].sum()]
        for i in range(1, len(chain)):
            f = (stay[i - 1] * alpha[-1] + (1.0 - stay[i - 1]) / m) * emit[i]
            alpha.append(f / f.sum())
        beta = [np.ones(m)]
        for i in range(len(chain) - 2, -1, -1):
            g = emit[i + 1] * beta[0]
            bk = stay[i] * g + (1.0 - stay[i]) * g.sum() / m
            beta.insert(0, bk / bk.sum())
        out = []
        for a_, b_ in zip(alpha, beta, strict=True):
            q = a_ * b_
            q /= q.sum()
            out.append({cc: float(q[k]) for cc, k in at.items()})
        return out

    def _country_vote(
        self,
        i: int,
        pool: _Pool,
        states: np.ndarray,
        post: np.ndarray,
        c: int,
        countries: dict[str, float],
    ) -> int:
        """The place ``c`` chosen for photo ``i``, or, where its trip's posterior over
        countries makes another country ``country_odds`` times likelier than ``c``'s,
        its own place if there, else the likeliest place in that country: trip-mates
        agree on a country before they agree on a city. A place of no known country
        (a trip-mate's fix, a track) stands."""
        top = max(countries, key=countries.__getitem__)
        here = pool.country[c]
        if not here:  # a fix, a track: no vote moves it
            return c
        if top == here or countries[top] < self.travel.country_min:
            return c
        if countries[top] < self.travel.country_odds * countries.get(here, 0.0):
            return c
        if pool.country[pool.own[i]] == top:
            return pool.own[i]
        inside = np.array([pool.country[s] == top for s in states])
        if not inside.any():
            return c
        return int(states[inside][int(np.argmax(post[inside]))])

    def _between_fixes(self, chain: list[PhotoEvidence], i: int) -> Placed | None:
        """Photo ``i`` between two fixed chain-mates: on the great circle between them at
        its fraction of the time, as far off as the faster of walking and the speed
        between the fixes covers in the time to the nearer (None unless bracketed)."""
        if not (0 < i < len(chain) - 1 and chain[i - 1].fixed and chain[i + 1].fixed):
            return None
        a, b = chain[i - 1].hypotheses[0], chain[i + 1].hypotheses[0]
        ta, tb, t = chain[i - 1].time_s, chain[i + 1].time_s, chain[i].time_s
        span = tb - ta
        f = (t - ta) / span if span > 0 else 0.0
        lat, lon = slerp(
            np.array(a.lat), np.array(a.lon), np.array(b.lat), np.array(b.lon), np.array(f)
        )
        speed = WALKING_KM_S
        if span > 0:
            speed = max(speed, float(distance_km(a.lat, a.lon, b.lat, b.lon)) / span)
        gap = min(t - ta, tb - t)
        window = max(self.travel.anchor_window_s, 1.0)
        return Placed(
            float(lat),
            float(lon),
            max(a.radius_km, b.radius_km) + speed * gap,
            0.95 * math.exp(-gap / window),
            Source.NEIGHBORS,
            f"your GPS photos: same camera, between two {duration(span)} apart",
            False,
            3,
        )


def _alone(p: PhotoEvidence) -> Placed | None:
    """A photo placed by its own evidence only."""
    if not p.hypotheses:
        return None
    h = p.hypotheses[0]
    return Placed(h.lat, h.lon, h.radius_km, h.weight, h.source, h.label, True, 0)
