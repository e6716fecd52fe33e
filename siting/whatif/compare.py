"""Compare two runs: sites added, removed and moved, score changes, mines that switch plant, and
the totals before and after.

A comparison reads two output folders (``run.json`` and ``siting.gpkg``), so it works on any
pair of runs, old or new; ``siting compare A.toml B.toml`` runs both scenarios first. Sites of
a profile are matched one to one by position (the pairing with the least total distance, none
farther apart than ``match_m``): a matched pair in the same place is ``kept``, elsewhere
``moved``; unmatched sites are ``removed`` (only in A) or ``added`` (only in B).
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from scipy.optimize import linear_sum_assignment

from siting.errors import SitingError
from siting.exports import staged
from siting.exports.report import document as report
from siting.exports.report.document import Bullets, Heading, Para, Table
from siting.exports.runinfo import RunInfo, reading_gpkg
from siting.exports.webmap.offline import inline_assets

#: Sites closer than this (metres) count as the same place (one cell of the finest usual grid).
SAME_PLACE_M = 1.0
log = logging.getLogger("siting")
STATUS_COLOURS = {"kept": "#636363", "moved": "#1f78b4", "added": "#33a02c", "removed": "#e31a1c"}


@dataclass
class RunOutputs:
    """What a comparison reads of a run's output folder: its run info (``run.json``), its
    proposed sites and its haul routes."""

    folder: Path
    info: RunInfo
    sites: gpd.GeoDataFrame
    lines: gpd.GeoDataFrame | None

    @property
    def name(self) -> str:
        return self.info.scenario.name

    @property
    def title(self) -> str:
        return self.info.scenario.title or self.name

    @classmethod
    def read(cls, folder: Path) -> RunOutputs:
        """Read an output folder (``outputs/<scenario name>``).

        Raises
        ------
        SitingError
            If the folder lacks ``run.json`` or ``siting.gpkg`` (not a run's output folder), or
            its ``run.json`` is not one this version reads.
        """
        folder = Path(folder)
        run_json, gpkg = folder / "run.json", folder / "siting.gpkg"
        if not run_json.is_file() or not gpkg.is_file():
            raise SitingError(
                f"{folder} is not a run's output folder (it has no run.json and siting.gpkg)",
                "give two output folders (outputs/<scenario name>) or two scenario .toml files",
            )
        info = RunInfo.read(folder)
        with reading_gpkg(gpkg):
            tables = set(pyogrio.list_layers(gpkg)[:, 0])
            if "proposed_sites" not in tables:
                raise SitingError(
                    f"{gpkg} has no proposed_sites table: it is not a run's GeoPackage",
                    "run the scenario again to write its output folder afresh",
                )
            sites = gpd.read_file(gpkg, layer="proposed_sites")
            lines = (
                gpd.read_file(gpkg, layer="allocation_lines")
                if "allocation_lines" in tables
                else None
            )
        return cls(folder, info, sites, lines)


@dataclass
class Comparison:
    """Two runs side by side.

    Attributes
    ----------
    a, b
        The runs compared (before, after).
    sites
        One row per site of either run: ``profile``, ``status`` (kept, moved, added, removed),
        ``site_a``/``site_b``, ``rank_a``/``rank_b``, ``score_a``/``score_b``, ``score_delta``,
        ``moved_m``; at B's position (A's for removed sites).
    moves
        A line from A's to B's position per moved site.
    switches
        The demand features (mines) served by a different plant in B: ``demand``, ``plant_a``,
        ``plant_b`` (B's ids), ``weight_a``/``weight_b``, ``km_a``/``km_b``; B's haul route.
    totals
        ``metric``, ``a``, ``b``, ``delta``: sites per profile, plants, transport, suitability,
        covering.
    caveats
        Differences between the runs that are not the what-if's and move the totals by
        themselves (grid resolution, CRS, which features are demand): each one sentence, also
        logged as a warning, printed and written at the top of the report.
    """

    a: RunOutputs
    b: RunOutputs
    sites: gpd.GeoDataFrame
    moves: gpd.GeoDataFrame
    switches: gpd.GeoDataFrame
    totals: pd.DataFrame
    caveats: list[str] = field(default_factory=list)


def check_match_m(match_m: float, key: str = "match_m") -> None:
    """Raise a :class:`~siting.errors.SitingError` naming ``key`` unless ``match_m`` is a
    distance: a finite number of metres >= 0 (0: only sites in the same place match)."""
    if isinstance(match_m, bool) or not (
        isinstance(match_m, (int, float)) and 0 <= match_m < math.inf
    ):
        option = key.startswith("--")
        given, example = (" ", " 5000") if option else (" = ", "=5000.0")
        raise SitingError(
            f"{key}{given}{match_m!r} must be a distance in metres, finite and >= 0",
            f"e.g. {key}{example}: sites of a profile within 5 km of each other are one site",
        )


def compare(a: RunOutputs, b: RunOutputs, match_m: float = 5000.0) -> Comparison:
    """Compare run ``b`` against run ``a`` (see the module docstring for the rules).

    Raises
    ------
    SitingError
        If ``match_m`` is not a finite distance >= 0.
    """
    check_match_m(match_m)
    crs = a.sites.crs
    b_sites = b.sites.to_crs(crs)
    rows = []
    for profile in sorted(set(a.sites["profile"]) | set(b_sites["profile"])):
        rows += _match(
            a.sites[a.sites["profile"] == profile], b_sites[b_sites["profile"] == profile], match_m
        )
    sites = gpd.GeoDataFrame(rows, geometry="geometry", crs=crs)
    moved = sites[sites["status"] == "moved"]
    a_xy = a.sites.set_index("site_id")
    moves = gpd.GeoDataFrame(
        moved[["profile", "site_a", "site_b", "moved_m"]].reset_index(drop=True),
        geometry=[
            shapely.LineString([a_xy.geometry[sa], geom])
            for sa, geom in zip(moved["site_a"], moved.geometry, strict=True)
        ],
        crs=crs,
    )
    a_to_b = dict(zip(sites["site_a"], sites["site_b"], strict=True))
    caveats = _caveats(a, b)
    for caveat in caveats:
        log.warning("compare: %s", caveat)
    return Comparison(a, b, sites, moves, _switches(a, b, a_to_b, crs), _totals(a, b), caveats)


def _caveats(a: RunOutputs, b: RunOutputs) -> list[str]:
    """What differs between the runs besides the scenario's what-if and changes the totals on
    its own: a coarser grid moves sites by up to a cell and lengthens or shortens every haul."""
    out = []
    ga, gb = a.info.grid, b.info.grid
    if not math.isclose(ga.res, gb.res, rel_tol=1e-9):
        out.append(
            f"the grids differ: A at {ga.res:g} m, B at {gb.res:g} m; part of every change "
            "(sites moved, transport, suitability) comes from the resolution, not the what-if"
        )
    if ga.crs != gb.crs:
        out.append(
            f"the CRS differ: A in {ga.crs}, B in {gb.crs}; distances and areas are measured "
            "differently"
        )
    mode_a, mode_b = a.info.demand.get("mode"), b.info.demand.get("mode")
    if mode_a and mode_b and mode_a != mode_b:
        out.append(
            f"the demand differs: A counts features {mode_a!r} the study area, B {mode_b!r}; "
            "the transport totals cover different mines"
        )
    return out


def _match(a: gpd.GeoDataFrame, b: gpd.GeoDataFrame, match_m: float) -> list[dict]:
    xa = np.column_stack([a.geometry.x, a.geometry.y])
    xb = np.column_stack([b.geometry.x, b.geometry.y])
    pairs: list[tuple[int, int]] = []
    if len(a) and len(b):
        d = np.hypot(xa[:, None, 0] - xb[None, :, 0], xa[:, None, 1] - xb[None, :, 1])
        # Pairs farther than match_m cost more than leaving both unmatched would.
        big = 2 * match_m + d.max() * len(d)
        i, j = linear_sum_assignment(np.where(d <= match_m, d, big))
        pairs = [(p, q) for p, q in zip(i, j, strict=True) if d[p, q] <= match_m]
    out = []
    for p, q in pairs:
        ra, rb = a.iloc[p], b.iloc[q]
        dist = float(np.hypot(*(xa[p] - xb[q])))
        out.append(_row(ra, rb, "kept" if dist < SAME_PLACE_M else "moved", dist, rb.geometry))
    matched_a, matched_b = {p for p, _ in pairs}, {q for _, q in pairs}
    out += [
        _row(a.iloc[p], None, "removed", np.nan, a.geometry.iloc[p])
        for p in range(len(a))
        if p not in matched_a
    ]
    out += [
        _row(None, b.iloc[q], "added", np.nan, b.geometry.iloc[q])
        for q in range(len(b))
        if q not in matched_b
    ]
    return out


def _row(ra: pd.Series | None, rb: pd.Series | None, status: str, dist: float, geom) -> dict:
    def get(r: pd.Series | None, key: str):
        return None if r is None else r[key]

    score_a, score_b = get(ra, "score"), get(rb, "score")
    either = ra if ra is not None else rb
    if either is None:
        raise ValueError("_row needs a site of run A or of run B")
    return {
        "profile": either["profile"],
        "status": status,
        "site_a": get(ra, "site_id"),
        "site_b": get(rb, "site_id"),
        "rank_a": get(ra, "rank"),
        "rank_b": get(rb, "rank"),
        "score_a": score_a,
        "score_b": score_b,
        "score_delta": np.nan if score_a is None or score_b is None else score_b - score_a,
        "moved_m": dist,
        "near": get(rb, "near") if rb is not None else get(ra, "near"),
        "geometry": geom,
    }


def _switches(a: RunOutputs, b: RunOutputs, a_to_b: dict, crs: object) -> gpd.GeoDataFrame:
    columns = ["demand", "plant_a", "plant_b", "weight_a", "weight_b", "km_a", "km_b"]
    if a.lines is None or b.lines is None:
        return gpd.GeoDataFrame(columns=[*columns, "geometry"], geometry="geometry", crs=crs)
    # With multi-sourcing a feature may have several plants: compare its main one.
    main_a = a.lines.sort_values("weight", ascending=False).drop_duplicates("demand")
    main_b = b.lines.to_crs(crs).sort_values("weight", ascending=False).drop_duplicates("demand")
    joined = main_b.merge(
        pd.DataFrame(main_a.drop(columns="geometry")),
        on="demand",
        how="outer",
        suffixes=("_b", "_a"),
    )
    joined["plant_a"] = joined["site_id_a"].map(lambda s: a_to_b.get(s) or s)
    moved = joined["plant_a"] != joined["site_id_b"]
    out = joined[moved].rename(columns={"site_id_b": "plant_b"})
    return gpd.GeoDataFrame(
        out[columns].reset_index(drop=True),
        geometry=out["geometry"].to_numpy(),
        crs=crs,
    )


def _totals(a: RunOutputs, b: RunOutputs) -> pd.DataFrame:
    rows: list[tuple[str, Any, Any]] = []
    for profile in sorted(set(a.sites["profile"]) | set(b.sites["profile"])):
        rows.append((f"sites: {profile}", _count(a.sites, profile), _count(b.sites, profile)))
    alloc_a, alloc_b = a.info.allocation or {}, b.info.allocation or {}
    for key, label in (
        ("n_plants", "plants opened"),
        ("transport", "transport (weight × km)"),
        ("objective", "objective"),
        ("mean_suitability", "plants' mean suitability"),
    ):
        if key in alloc_a or key in alloc_b:
            rows.append((label, alloc_a.get(key), alloc_b.get(key)))
    cov_a, cov_b = a.info.covering or {}, b.info.covering or {}
    for key, label in (("coverage", "covered demand"), ("share", "covered share")):
        if key in cov_a or key in cov_b:
            rows.append((label, cov_a.get(key), cov_b.get(key)))
    totals = pd.DataFrame(rows, columns=["metric", "a", "b"])
    totals["delta"] = pd.to_numeric(totals["b"]) - pd.to_numeric(totals["a"])
    return totals


def _count(sites: gpd.GeoDataFrame, profile: str) -> int:
    return int((sites["profile"] == profile).sum())


def write(c: Comparison, folder: Path) -> Path:
    """Write the comparison folder, atomically: ``comparison.gpkg`` (site_changes, site_moves,
    allocation_switches), ``sites.csv``, ``totals.csv``, ``comparison.json``, ``map.html`` and
    ``report.md``/``report.html``."""

    with staged(folder) as staging:
        gpkg = staging / "comparison.gpkg"
        c.sites.to_file(gpkg, layer="site_changes", driver="GPKG")
        if len(c.moves):
            c.moves.to_file(gpkg, layer="site_moves", driver="GPKG")
        if len(c.switches):
            c.switches.to_file(gpkg, layer="allocation_switches", driver="GPKG")
        pd.DataFrame(c.sites.drop(columns="geometry")).to_csv(staging / "sites.csv", index=False)
        c.totals.to_csv(staging / "totals.csv", index=False)
        summary = {
            "a": {"name": c.a.name, "title": c.a.title, "folder": str(c.a.folder)},
            "b": {"name": c.b.name, "title": c.b.title, "folder": str(c.b.folder)},
            "sites": c.sites["status"].value_counts().to_dict(),
            "switches": len(c.switches),
            "totals": json.loads(c.totals.to_json(orient="records")),
            "caveats": c.caveats,
        }
        (staging / "comparison.json").write_text(json.dumps(summary, indent=2) + "\n")
        page = comparison_map(c).get_root().render()
        (staging / "map.html").write_text(inline_assets(page), encoding="utf-8")
        blocks = _report(c)
        (staging / "report.md").write_text(report.markdown(blocks), encoding="utf-8")
        title = f"{c.a.title} → {c.b.title}"
        (staging / "report.html").write_text(report.to_html(blocks, title), encoding="utf-8")
    return folder


def comparison_map(c: Comparison) -> folium.Map:
    """The comparison as one folium map: sites by change, moves, switching mines' routes."""
    wgs = "EPSG:4326"
    sites = c.sites.to_crs(wgs)
    minx, miny, maxx, maxy = sites.total_bounds
    m = folium.Map(tiles="OpenStreetMap", location=[(miny + maxy) / 2, (minx + maxx) / 2])
    for status, colour in STATUS_COLOURS.items():
        group = folium.FeatureGroup(name=f"Sites {status}")
        for _, r in sites[sites["status"] == status].iterrows():
            label = _txt(r["site_b"]) or _txt(r["site_a"])
            delta = "" if pd.isna(r["score_delta"]) else f", score {r['score_delta']:+.3f}"
            moved = (
                ""
                if pd.isna(r["moved_m"]) or status == "kept"
                else f", moved {r['moved_m'] / 1000:.1f} km"
            )
            folium.CircleMarker(
                [r.geometry.y, r.geometry.x],
                radius=7,
                color=colour,
                fill=True,
                fill_opacity=0.8,
                tooltip=f"{label}: {status}{moved}{delta}",
            ).add_to(group)
        group.add_to(m)
    moves = [
        (g, f"{r.site_a} → {r.site_b}: {r.moved_m / 1000:.1f} km")
        for g, r in zip(c.moves.to_crs(wgs).geometry, c.moves.itertuples(), strict=True)
    ]
    _polylines(m, "Site moves (A → B)", STATUS_COLOURS["moved"], 3, moves)
    switches = [
        (g, f"{r.demand}: {_txt(r.plant_a)} → {_txt(r.plant_b) or 'none (removed)'}")
        for g, r in zip(c.switches.to_crs(wgs).geometry, c.switches.itertuples(), strict=True)
    ]
    _polylines(m, "Mines switching plant (B's haul route)", "#ff7f00", 2, switches)
    folium.LayerControl(collapsed=False).add_to(m)
    m.fit_bounds([[miny, minx], [maxy, maxx]])
    return m


def _polylines(
    m: folium.Map, name: str, colour: str, weight: int, lines: list[tuple[Any, str]]
) -> None:
    """A layer of (lon/lat LineString, tooltip) pairs; none when there are no lines."""
    lines = [(g, tip) for g, tip in lines if g is not None and not g.is_empty]
    if not lines:
        return
    group = folium.FeatureGroup(name=name)
    for geom, tip in lines:
        folium.PolyLine(
            [(y, x) for x, y in geom.coords], color=colour, weight=weight, tooltip=tip
        ).add_to(group)
    group.add_to(m)


def _report(c: Comparison) -> list:

    counts = c.sites["status"].value_counts()
    blocks = [
        Heading(1, f"{c.a.title} → {c.b.title}"),
        Para([f"A: {c.a.name} ({c.a.folder}); B: {c.b.name} ({c.b.folder})."]),
        *(Para([f"Caution: {caveat}."]) for caveat in c.caveats),
        Bullets(
            [[f"{counts.get(s, 0)} site(s) {s}"] for s in STATUS_COLOURS]  # type: ignore[arg-type]  # list is invariant
            + [[f"{len(c.switches)} demand feature(s) switch plant"]]
        ),
        Heading(2, "Totals", "totals"),
        Table(
            ["metric", "A", "B", "B − A"],
            [[r.metric, _fmt(r.a), _fmt(r.b), _fmt(r.delta)] for r in c.totals.itertuples()],
            [False, True, True, True],
        ),
        Heading(2, "Sites", "sites"),
        Table(
            ["profile", "status", "A", "B", "score A", "score B", "Δ score", "moved (km)"],
            [
                [
                    r.profile,
                    r.status,
                    _txt(r.site_a),
                    _txt(r.site_b),
                    _fmt(r.score_a),
                    _fmt(r.score_b),
                    _fmt(r.score_delta),
                    _fmt(r.moved_m / 1000),
                ]
                for r in c.sites.itertuples()
            ],
            [False, False, False, False, True, True, True, True],
        ),
    ]
    if len(c.switches):
        blocks += [
            Heading(2, "Mines that switch plant", "switches"),
            Table(
                ["demand", "plant (A, as B's id)", "plant B", "km A", "km B"],
                [
                    [r.demand, str(r.plant_a), str(r.plant_b), _fmt(r.km_a), _fmt(r.km_b)]
                    for r in c.switches.itertuples()
                ],
                [False, False, False, True, True],
            ),
        ]
    return blocks


def _txt(value: object) -> str:
    """A text cell: empty for a missing value (None, or NaN after a round trip through pandas)."""
    return "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)


def _fmt(value: object) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return ""
    if isinstance(value, (int, np.integer)):
        return str(value)
    v = float(value)  # type: ignore[arg-type]  # a number from run.json or a frame
    if v.is_integer():
        return f"{int(v):,}"
    return f"{v:,.3f}" if abs(v) < 10 else f"{v:,.1f}"


def print_summary(c: Comparison) -> None:
    """The terminal summary: totals, then every site that is not simply kept."""
    print(f"\n{c.a.title}  →  {c.b.title}")
    for caveat in c.caveats:
        print(f"caution: {caveat}")
    print(f"{'metric':<32}{'A':>14}{'B':>14}{'B − A':>14}")
    for r in c.totals.itertuples():
        print(f"{r.metric:<32}{_fmt(r.a):>14}{_fmt(r.b):>14}{_fmt(r.delta):>14}")
    changed = c.sites[c.sites["status"] != "kept"]
    print(f"\n{len(changed)} site(s) changed, {len(c.switches)} mine(s) switch plant:")
    for r in changed.itertuples():
        ids = f"{_txt(r.site_a) or '—'} → {_txt(r.site_b) or '—'}"
        moved = f"{r.moved_m / 1000:.1f} km" if r.status == "moved" else ""
        print(f"  {r.status:<8}{ids:<44}{moved:>9}  {_txt(r.near)}")
