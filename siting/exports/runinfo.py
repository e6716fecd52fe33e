"""``run.json``: what was run (scenario, inputs and their hashes, versions) and how long it took."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import platform
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from siting.pipeline.stages import Result

PACKAGES = (
    "siting",
    "geopandas",
    "shapely",
    "rasterio",
    "pyogrio",
    "pyproj",
    "osmnx",
    "scikit-learn",
    "scikit-image",
    "folium",
    "numpy",
    "scipy",
)


def sha256(path: Path) -> str:
    """Hex SHA-256 of a file's content."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def versions() -> dict[str, str]:
    """Versions of Python and the packages a run depends on."""
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def _number(value: Any) -> float | int | None:
    """A JSON-safe number: NaN and infinities become null (``json`` would write bare NaN)."""
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    value = float(value)
    return value if math.isfinite(value) else None


def allocation_info(result: Result) -> dict[str, Any] | None:
    """``run.json``'s "allocation": the model, the solver's proof and the plants opened, and the
    Pareto sweep (one record per suitability weight) when there was one."""
    from siting.exports.webmap.page import transport_unit

    a = result.allocation
    if a is None:
        return None
    spec = result.scenario.allocation
    pareto = None
    if a.pareto is not None:
        pareto = [
            {k: v if isinstance(v, str) else _number(v) for k, v in row.items()}
            for row in a.pareto.to_dict(orient="records")
        ]
    return {
        "profile": a.profile,
        "model": a.model,
        "method": a.method,
        "p": a.p,
        "n_plants": len(a.plants),
        "capacity": None if spec is None else _number(spec.capacity),
        "opening_cost": None if spec is None else _number(spec.opening_cost),
        "suitability_weight": None if spec is None else _number(spec.suitability_weight),
        "objective": _number(a.objective),
        "transport": _number(a.transport),
        "transport_units": f"{transport_unit(spec.weight_field if spec else None)} "
        "(road-equivalent km: cost-distance relative to a road)",
        "mean_suitability": _number(a.mean_suitability),
        "lower_bound": _number(a.lower_bound),
        "gap": _number(a.gap),
        "seconds": _number(a.seconds),
        "plants": a.plants["site_id"].tolist(),
        "pareto": pareto,
    }


def covering_info(result: Result) -> dict[str, Any] | None:
    """``run.json``'s "covering": demand reached by the existing and the new sites."""
    c = result.covering
    if c is None:
        return None
    status = c.sites["status"].astype(str)
    return {
        "profile": c.profile,
        "p": c.p,
        "max_minutes": _number(c.max_minutes),
        "coverage": _number(c.coverage),
        "baseline": _number(c.baseline),
        "total": _number(c.total),
        "share": _number(c.coverage / c.total) if c.total else None,
        "gap": _number(c.gap),
        "seconds": _number(c.seconds),
        "new": c.sites.loc[status == "new", "name"].astype(str).tolist(),
        "new_site_ids": c.sites.loc[status == "new", "site_id"].astype(str).tolist(),
        "existing": c.sites.loc[status == "existing", "name"].astype(str).tolist(),
    }


def info(result: Result) -> dict[str, Any]:
    """The content of ``run.json``."""
    scenario = result.scenario
    grid = result.grid
    return {
        "scenario": _plain(scenario),
        "inputs": {
            name: {
                "path": str(spec.path),
                "sha256": sha256(spec.path),
                "features_used": len(result.layers[name]),
            }
            for name, spec in scenario.layers.items()
        },
        "grid": {
            "crs": grid.crs,
            "resolution_m": grid.res,
            "width": grid.width,
            "height": grid.height,
            "bounds": list(grid.bounds),
        },
        "sites": {p: int((result.sites["profile"] == p).sum()) for p in scenario.profiles},
        "allocation": allocation_info(result),
        "covering": covering_info(result),
        "versions": versions(),
        "timings_s": dict(result.timings),
    }


def write(result: Result, path: Path) -> Path:
    """Write ``run.json``."""
    path.write_text(
        json.dumps(info(result), indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8"
    )
    return path
