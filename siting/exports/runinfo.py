"""``run.json``: what was run (scenario, inputs and their hashes, versions) and how long it took.

:class:`RunInfo` is its typed content: made from a live run (:meth:`RunInfo.of`) or read back
from an output folder (:meth:`RunInfo.read`, which validates the scenario again against the
schema). The QGIS project and ``siting compare`` read it, so a fresh run and an older output
folder go through the same code.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import platform
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyogrio.errors
from pydantic import TypeAdapter

from siting.config.scenario import Scenario
from siting.demand import outside_demand
from siting.errors import SitingError
from siting.exports import assumptions

if TYPE_CHECKING:
    from siting.pipeline.result import Result

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
    from siting.exports.theme import haul_km, transport_unit

    a = result.allocation
    if a is None:
        return None
    spec = result.scenario.allocation
    s = result.scenario
    per_km = transport_unit(s, spec.demand, spec.weight_field) if spec else "weight·km"
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
        "transport_units": f"{per_km} ({haul_km(result.scenario)} km)",
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
        "travel": c.travel,
        "note": c.note(),
    }


def demand_info(result: Result) -> dict[str, Any]:
    """``run.json``'s "demand": which features the models took as demand (``[models] demand``)
    and, per demand layer, how many were read, lay outside the study area, and were demand."""
    s = result.scenario
    layers = {}
    for name, outside in outside_demand(s, result.layers, result.study_area).items():
        read = len(result.layers[name])
        used = read if s.demand == "padded" else read - outside
        layers[name] = {"read": read, "outside_study_area": outside, "demand": used}
    return {"mode": s.demand, "layers": layers}


@dataclass(frozen=True)
class GridInfo:
    """The run's raster grid: CRS, cell size (m), size in cells and bounds."""

    crs: str
    res: float
    width: int
    height: int
    bounds: tuple[float, float, float, float]


@dataclass(frozen=True)
class CriterionInfo:
    """A raw criterion raster: its name and units (metres, cost, people …)."""

    name: str
    units: str


@dataclass(frozen=True)
class RunInfo:
    """What ``run.json`` holds.

    Attributes
    ----------
    scenario
        The scenario as run (after overrides), validated:
        :class:`~siting.config.scenario.Scenario`.
    grid
        The raster grid.
    criteria
        Each raw criterion's units (empty for folders written before run.json had them).
    inputs
        Per layer: the file's path and SHA-256 and the number of features the run used.
    sites
        Number of sites proposed per profile.
    allocation, covering, chain
        The models' results (None when the scenario has no such model).
    robustness
        The default sensitivity: draws, factor ranges, class counts and each planned site's
        robustness (None with ``[sensitivity] draws = 0``).
    demand
        Which features the models took as demand (:func:`demand_info`; empty for folders
        written before run.json had it).
    assumptions
        Every assumed number of the scenario as run (:mod:`siting.exports.assumptions`).
    versions
        Python's and the dependencies' versions.
    timings_s
        Seconds per stage.
    """

    scenario: Scenario
    grid: GridInfo
    criteria: dict[str, CriterionInfo] = field(default_factory=dict)
    inputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    sites: dict[str, int] = field(default_factory=dict)
    allocation: dict[str, Any] | None = None
    covering: dict[str, Any] | None = None
    chain: dict[str, Any] | None = None
    robustness: dict[str, Any] | None = None
    demand: dict[str, Any] = field(default_factory=dict)
    assumptions: list[dict[str, Any]] = field(default_factory=list)
    versions: dict[str, str] = field(default_factory=dict)
    timings_s: dict[str, float] = field(default_factory=dict)

    @classmethod
    def of(cls, result: Result) -> RunInfo:
        """The run info of a live run."""
        scenario, grid = result.scenario, result.grid
        return cls(
            scenario=scenario,
            grid=GridInfo(grid.crs, grid.res, grid.width, grid.height, _bounds(grid.bounds)),
            criteria={n: CriterionInfo(n, r.units or "") for n, r in result.criteria.items()},
            inputs={
                name: {
                    "path": str(spec.path),
                    "sha256": sha256(spec.path),
                    "features_used": len(result.layers[name]),
                }
                for name, spec in scenario.layers.items()
            },
            sites={p: int((result.sites["profile"] == p).sum()) for p in scenario.profiles},
            allocation=allocation_info(result),
            covering=covering_info(result),
            chain=None if result.chain is None else result.chain.summary(),
            robustness=None if result.robustness is None else result.robustness.summary(),
            demand=demand_info(result),
            assumptions=assumptions.records(assumptions.of(result)),
            versions=versions(),
            timings_s=dict(result.timings),
        )

    @classmethod
    def read(cls, folder: Path) -> RunInfo:
        """The run info of an output folder (its ``run.json``).

        Raises
        ------
        SitingError
            If the folder has no ``run.json`` or it does not describe a valid scenario.
        """
        path = Path(folder) / "run.json"
        if not path.is_file():
            raise SitingError(
                f"{folder} has no run.json: it is not a siting output folder",
                "give the folder a 'siting run' wrote (outputs/<scenario name>)",
            )
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            scenario = TypeAdapter(Scenario).validate_python(data["scenario"])
            g = data["grid"]
            grid = GridInfo(
                str(g["crs"]),
                float(g["resolution_m"]),
                int(g["width"]),
                int(g["height"]),
                _bounds(g["bounds"]),
            )
        except (KeyError, TypeError, ValueError, UnicodeDecodeError) as exc:
            raise SitingError(
                f"{path} does not describe a run this version of siting reads ({exc})",
                "run the scenario again with this version",
            ) from None
        return cls(
            scenario=scenario,
            grid=grid,
            criteria={
                n: CriterionInfo(n, str(c.get("units") or ""))
                for n, c in (data.get("criteria") or {}).items()
            },
            inputs=dict(data.get("inputs") or {}),
            sites={str(k): int(v) for k, v in (data.get("sites") or {}).items()},
            allocation=data.get("allocation"),
            covering=data.get("covering"),
            chain=data.get("chain"),
            robustness=data.get("robustness"),
            demand=dict(data.get("demand") or {}),
            assumptions=list(data.get("assumptions") or []),
            versions=dict(data.get("versions") or {}),
            timings_s=dict(data.get("timings_s") or {}),
        )

    def to_dict(self) -> dict[str, Any]:
        """The content of ``run.json``, as plain JSON values."""
        g = self.grid
        return {
            "scenario": _plain(self.scenario),
            "inputs": self.inputs,
            "grid": {
                "crs": g.crs,
                "resolution_m": g.res,
                "width": g.width,
                "height": g.height,
                "bounds": list(g.bounds),
            },
            "criteria": {n: {"units": c.units} for n, c in self.criteria.items()},
            "sites": self.sites,
            "allocation": self.allocation,
            "covering": self.covering,
            "chain": self.chain,
            "robustness": self.robustness,
            "demand": self.demand,
            "assumptions": self.assumptions,
            "versions": self.versions,
            "timings_s": self.timings_s,
        }

    def write(self, path: Path) -> Path:
        """Write ``run.json``."""
        text = json.dumps(self.to_dict(), indent=2, ensure_ascii=False, default=str)
        path.write_text(text + "\n", encoding="utf-8")
        return path


def _bounds(values: Any) -> tuple[float, float, float, float]:
    xmin, ymin, xmax, ymax = (float(v) for v in values)
    return xmin, ymin, xmax, ymax


def info(result: Result) -> dict[str, Any]:
    """The content of ``run.json``."""
    return RunInfo.of(result).to_dict()


def write(result: Result, path: Path) -> Path:
    """Write ``run.json``."""
    return RunInfo.of(result).write(path)


@contextmanager
def reading_gpkg(path: Path) -> Iterator[None]:
    """Read an output folder's GeoPackage inside this block: one that GDAL or SQLite cannot read
    (empty, cut short, overwritten) is a :class:`~siting.errors.SitingError` naming it, not a
    traceback from deep inside GDAL."""
    try:
        yield
    except (
        pyogrio.errors.DataSourceError,
        pyogrio.errors.DataLayerError,
        pyogrio.errors.FieldError,
        pyogrio.errors.GeometryError,
        sqlite3.DatabaseError,
    ) as exc:
        reason = str(exc).split("; ")[0].splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise SitingError(
            f"{path} cannot be read as a GeoPackage ({reason})",
            "run the scenario again to write its output folder afresh",
        ) from None
