"""``run.json``: what was run (scenario, inputs and their hashes, versions) and how long it took."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import platform
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from siting.pipeline import Result

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
        "allocation": None
        if result.allocation is None
        else {
            "profile": result.allocation.profile,
            "p": result.allocation.p,
            "objective": result.allocation.objective,
            "gap": result.allocation.gap,
            "seconds": result.allocation.seconds,
            "plants": result.allocation.plants["site_id"].tolist(),
        },
        "versions": versions(),
        "timings_s": dict(result.timings),
    }


def write(result: Result, path: Path) -> Path:
    """Write ``run.json``."""
    path.write_text(
        json.dumps(info(result), indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8"
    )
    return path
