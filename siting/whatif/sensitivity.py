"""Sensitivity and robustness of a profile's proposed sites to its weights.

Weights are judgements; a planner needs to know which sites survive other reasonable ones.
Monte Carlo: weights are drawn around the chosen ones — Dirichlet with mean the chosen weights
(``concentration`` sets how tight: the standard deviation of a weight w is
√(w(1 − w)/(concentration + 1))), or for AHP profiles every pairwise judgement multiplied by a
log-normal factor (``judgement_sd`` on the log scale) and the weights recomputed — and for each
draw the suitability is recomputed from the run's standardised scores and the sites proposed
again, exactly as in the run. A proposed site of a draw counts for a site of the run when it lies
within half the profile's separation of it. One-at-a-time sweeps move one weight from 0 to twice
its value (the others rescaled to keep the sum) and record every site's rank.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from siting.exports import staged
from siting.exports.rasters import write_geotiff
from siting.mcda.sites import propose
from siting.mcda.suitability import Surface
from siting.mcda.weights import ahp_matrix_of, weight_draws
from siting.pipeline.result import Result
from siting.raster.grid import Raster

__all__ = ["Sensitivity", "sensitivity", "weight_draws", "write"]

_STATE: dict = {}  # a worker's copy of the run's surfaces, sent once per worker


@dataclass
class Sensitivity:
    """What :func:`sensitivity` found.

    Attributes
    ----------
    profile
        The profile analysed.
    weights
        The drawn weights, one row per draw, one column per criterion.
    sites
        Per site of the run: ``selected_share`` (share of draws proposing it), the median and
        5th/95th percentile of its rank among the draws that propose it.
    robustness
        Share of draws in which each eligible cell is in the top ``top_share`` of the eligible
        land by suitability.
    sweeps
        One-at-a-time sweeps: ``criterion``, ``weight``, ``site_id`` and its ``rank`` (NaN when
        not proposed at that weight).
    """

    profile: str
    weights: pd.DataFrame
    sites: pd.DataFrame
    robustness: Raster
    sweeps: pd.DataFrame


def _init(surface: Surface, raw: dict[str, Raster]) -> None:
    _STATE["surface"], _STATE["raw"] = surface, raw
    _STATE["stack"] = np.stack(
        [np.nan_to_num(surface.scores[c.name].data, nan=0.0) for c in surface.profile.criteria]
    ).astype(np.float64)
    _STATE["eligible"] = np.isfinite(surface.suitability.data)


def _one(weights: np.ndarray, top_share: float) -> tuple[np.ndarray, np.ndarray]:
    """The sites (x, y, rank) proposed with ``weights`` and the top cells' mask."""
    surface: Surface = _STATE["surface"]
    eligible = _STATE["eligible"]
    total = np.tensordot(weights, _STATE["stack"], axes=1)
    total[~eligible] = np.nan
    suit = replace(surface.suitability, data=total.astype(np.float32))
    profile = replace(surface.profile, weights=tuple(float(v) for v in weights))
    _, sites = propose(replace(surface, suitability=suit, profile=profile), _STATE["raw"])
    cut = np.quantile(total[eligible], 1 - top_share)
    top = eligible & (total >= cut)
    return sites[["x", "y", "rank"]].to_numpy(float), top


def _chunk(args: tuple) -> tuple[list[np.ndarray], np.ndarray]:
    """Several draws in a worker: their sites and how often each cell was in the top."""
    surface, raw, weights, top_share = args
    if _STATE.get("surface") is not surface:
        _init(surface, raw)
    found, count = [], np.zeros(surface.suitability.data.shape, dtype=np.int32)
    for w in weights:
        sites, top = _one(w, top_share)
        found.append(sites)
        count += top
    return found, count


def _ranks(base: pd.DataFrame, found: list[np.ndarray], radius: float) -> np.ndarray:
    """Rank of each base site in each draw (NaN where no proposed site is within ``radius``)."""
    bx, by = base["x"].to_numpy(float), base["y"].to_numpy(float)
    out = np.full((len(found), len(base)), np.nan)
    for k, sites in enumerate(found):
        if not len(sites):
            continue
        d = np.hypot(bx[:, None] - sites[None, :, 0], by[:, None] - sites[None, :, 1])
        nearest = np.argmin(d, axis=1)
        close = d[np.arange(len(base)), nearest] <= radius
        out[k, close] = sites[nearest[close], 2]
    return out


def sensitivity(
    result: Result,
    profile: str,
    n: int = 200,
    concentration: float = 50.0,
    judgement_sd: float = 0.2,
    top_share: float = 0.1,
    sweep_steps: int = 9,
    seed: int = 0,
    workers: int = 1,
    executor: Executor | None = None,
) -> Sensitivity:
    """Monte Carlo over the weights of ``profile`` and one-at-a-time sweeps (module docstring).

    The draws are cut into ``workers`` parts, run in that many processes, or by ``executor``
    when given (e.g. a Dask client's ``get_executor()``: the parts run on its cluster). The
    draws depend only on ``seed``, so the result depends neither on ``workers`` nor on where
    the parts run.
    """
    surface = result.surfaces[profile]
    p = surface.profile
    rng = np.random.default_rng(seed)
    matrix = ahp_matrix_of(p)
    draws = weight_draws(np.array(p.weights), n, rng, concentration, matrix, judgement_sd)
    raw = {c.name: result.criteria[c.name] for c in p.criteria}
    parts = np.array_split(draws, max(1, min(workers, n)))
    if executor is not None:
        done = list(executor.map(_chunk, [(surface, raw, w, top_share) for w in parts]))
    elif workers > 1:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            done = list(pool.map(_chunk, [(surface, raw, w, top_share) for w in parts]))
    else:
        done = [_chunk((surface, raw, w, top_share)) for w in parts]
    found = [s for sites, _ in done for s in sites]
    count = sum(c for _, c in done)
    base = result.sites_of(profile)
    ranks = _ranks(base, found, p.min_separation_m / 2)
    selected = np.isfinite(ranks)
    with np.errstate(all="ignore"):
        sites = pd.DataFrame(
            {
                "site_id": base["site_id"].to_numpy(),
                "rank": base["rank"].to_numpy(),
                "selected_share": selected.mean(axis=0),
                "rank_median": np.nanmedian(np.where(selected, ranks, np.nan), axis=0),
                "rank_p05": np.nanpercentile(ranks, 5, axis=0),
                "rank_p95": np.nanpercentile(ranks, 95, axis=0),
            }
        )
    share = np.where(np.isfinite(surface.suitability.data), count / n, np.nan)
    robustness = Raster(
        share.astype(np.float32),
        surface.suitability.grid,
        f"robustness_{profile}",
        "share of draws",
        f"share of {n} weight draws in which the cell is in the top {top_share:.0%} of "
        f"{p.title} land",
    )
    names = [c.name for c in p.criteria]
    return Sensitivity(
        profile,
        pd.DataFrame(draws, columns=names),
        sites,
        robustness,
        _sweeps(surface, raw, base, names, sweep_steps, top_share),
    )


def _sweeps(
    surface: Surface,
    raw: dict[str, Raster],
    base: pd.DataFrame,
    names: list[str],
    steps: int,
    top_share: float,
) -> pd.DataFrame:
    _init(surface, raw)
    w = np.array(surface.profile.weights)
    rows = []
    for k, name in enumerate(names):
        for value in np.linspace(0.0, min(1.0, 2 * w[k]), steps):
            rest = 1.0 - w[k]
            weights = w * ((1.0 - value) / rest) if rest > 0 else np.zeros_like(w)
            weights[k] = value
            sites, _ = _one(weights, top_share)
            ranks = _ranks(base, [sites], surface.profile.min_separation_m / 2)[0]
            rows += [
                {"criterion": name, "weight": value, "site_id": s, "rank": r}
                for s, r in zip(base["site_id"], ranks, strict=True)
            ]
    return pd.DataFrame(rows)


def write(s: Sensitivity, folder: Path) -> Path:
    """Write ``folder`` atomically: ``sites.csv``, ``sweeps.csv``, ``weights.csv``,
    ``robustness.tif`` (Cloud-Optimized GeoTIFF) and ``sweeps.png``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with staged(folder) as staging:
        s.sites.to_csv(staging / "sites.csv", index=False)
        s.sweeps.to_csv(staging / "sweeps.csv", index=False)
        s.weights.to_csv(staging / "weights.csv", index=False)
        write_geotiff(s.robustness, staging / "robustness.tif")
        names = list(s.weights.columns)
        fig, axes = plt.subplots(1, len(names), figsize=(3.2 * len(names), 3.2), sharey=True)
        for ax, name in zip(np.atleast_1d(axes), names, strict=True):
            sweep = s.sweeps[s.sweeps["criterion"] == name]
            for site_id, line in sweep.groupby("site_id", sort=False):
                ax.plot(line["weight"], line["rank"], marker="o", ms=3, label=site_id)
            ax.set_title(name)
            ax.set_xlabel("weight")
        first = np.atleast_1d(axes)[0]
        first.set_ylabel("rank (gap: not proposed)")
        first.invert_yaxis()
        first.legend(fontsize=7)
        fig.suptitle(f"{s.profile}: rank of each site as one weight moves")
        fig.tight_layout()
        fig.savefig(staging / "sweeps.png", dpi=110)
        plt.close(fig)
    return folder
