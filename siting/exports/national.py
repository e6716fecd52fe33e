"""The outputs of a national run (:class:`~siting.pipeline.result.NationalResult`): one
GeoPackage, one map, one report and ``run.json`` over every basin, beside the basins' own folders.

- ``siting.gpkg``: ``basins`` (each basin's study area with its summary), ``proposed_sites``
  and every other table of the basins' GeoPackages (exclusions, patches, robustness …) merged,
  each row with its ``basin``, all in EPSG:4326; plus the national input layers as read
  (``input_<layer>``).
- ``map.html``: the basins (coloured by whether they ran), every proposed site by profile, the
  mines; each basin links to its own map. Offline like a run's map.
- ``report.md`` / ``report.html``: a national summary table (one row per basin), each basin's
  best site per profile, and the basins skipped with the reason.

Scores are standardised within each basin (a criterion's range is the basin's own where the
scenario gives no fixed range), so the outputs compare sites within a basin, never across basins,
and say so.
"""

from __future__ import annotations

import html
import json
import math
import shutil
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import folium
import geopandas as gpd
import pandas as pd
import pyogrio

import siting
from siting.config.values import LONLAT
from siting.exports import theme
from siting.exports.report.blocks import (
    Block,
    Bullets,
    Heading,
    Link,
    Para,
    Table,
    markdown,
    num,
    to_html,
)
from siting.exports.webmap.offline import inline_assets
from siting.exports.webmap.sitemap import add_sites, add_title
from siting.inputs.layers import read_layer
from siting.pipeline.result import BasinRun, NationalResult

#: Tables of a basin's GeoPackage not merged: the styles, and the inputs (read nationally).
SKIPPED_TABLES = ("layer_styles",)
INPUT_PREFIX = "input_"
SCORES_NOTE = (
    "Scores are standardised within each basin, so they compare the sites of one basin, not "
    "sites of different basins."
)


def write(result: NationalResult, folder: Path) -> None:
    """Write the national outputs into ``folder`` (the staging copy of the output folder)."""
    s = result.scenario
    if s.outputs.gpkg:
        write_gpkg(result, folder, folder / "siting.gpkg")
    if s.outputs.map:
        write_map(result, folder / "map.html", offline=s.outputs.offline_map)
    if s.outputs.report:
        blocks = report_blocks(result)
        (folder / "report.md").write_text(markdown(blocks), encoding="utf-8")
        (folder / "report.html").write_text(to_html(blocks, s.title), encoding="utf-8")
    provenance = s.source.parent / theme.PROVENANCE_FILE if s.source else None
    if provenance is not None and provenance.is_file():
        shutil.copy2(provenance, folder / theme.PROVENANCE_FILE)
    text = json.dumps(run_info(result), indent=2, ensure_ascii=False, default=str)
    (folder / "run.json").write_text(text + "\n", encoding="utf-8")


# --- GeoPackage ---------------------------------------------------------------------------------


def basins_table(result: NationalResult) -> gpd.GeoDataFrame:
    """One row per basin: its study area (lon/lat) and what its run gave."""
    profiles = list(result.scenario.profiles)
    rows = []
    for b in result.basins:
        row: dict[str, Any] = {
            "basin": b.name,
            "title": b.title,
            "status": b.status,
            "message": b.message,
            "mines": b.mines,
            "output_mtpa": b.output,
            "crs": b.crs,
            "seconds": round(b.seconds, 1),
            "folder": b.folder or "",
        }
        for p in profiles:
            row[f"sites_{p}"] = int((b.sites["profile"] == p).sum()) if len(b.sites) else 0
        rows.append(row)
    return gpd.GeoDataFrame(rows, geometry=[b.area for b in result.basins], crs=LONLAT)


def merged_tables(result: NationalResult, folder: Path) -> dict[str, pd.DataFrame]:
    """Every table of the basins' GeoPackages (but the inputs and styles), one per name, rows
    from all basins with their ``basin``, geometries in EPSG:4326."""
    parts: dict[str, list[pd.DataFrame]] = {}
    for b in result.basins:
        if b.status != "ok" or b.folder is None:
            continue
        path = folder / b.folder / "siting.gpkg"
        if not path.is_file():
            continue
        for name, geometry_type in pyogrio.list_layers(path):
            if name in SKIPPED_TABLES or name.startswith(INPUT_PREFIX):
                continue
            if geometry_type is None:
                table: pd.DataFrame = pyogrio.read_dataframe(path, layer=name, read_geometry=False)
            else:
                table = gpd.read_file(path, layer=name, engine="pyogrio").to_crs(LONLAT)
            table.insert(0, "basin", b.name)
            parts.setdefault(name, []).append(table)
    out: dict[str, pd.DataFrame] = {}
    for name, frames in parts.items():
        joined = pd.concat(frames, ignore_index=True)
        if isinstance(frames[0], gpd.GeoDataFrame):
            joined = gpd.GeoDataFrame(joined, geometry=frames[0].geometry.name, crs=LONLAT)
        out[name] = joined
    return out


def write_gpkg(result: NationalResult, folder: Path, path: Path) -> Path:
    """The national GeoPackage (see the module docstring)."""
    basins_table(result).to_file(path, layer="basins", driver="GPKG", engine="pyogrio")
    tables = merged_tables(result, folder)
    if "proposed_sites" not in tables:
        tables["proposed_sites"] = result.sites
    for name, table in tables.items():
        if isinstance(table, gpd.GeoDataFrame):
            table.to_file(path, layer=name, driver="GPKG", engine="pyogrio")
        else:
            pyogrio.write_dataframe(table, path, layer=name, driver="GPKG")
    s = result.scenario
    for name, spec in s.layers.items():
        if name == s.study_area:
            continue
        edits = [e for e in s.edits if e.layer == name]
        layer = read_layer(spec, LONLAT, edits)
        layer.to_file(path, layer=f"{INPUT_PREFIX}{name}", driver="GPKG", engine="pyogrio")
    return path


# --- map ----------------------------------------------------------------------------------------


def build_map(result: NationalResult) -> folium.Map:
    """The national folium map."""
    s = result.scenario
    areas = basins_table(result)
    minx, miny, maxx, maxy = (float(v) for v in areas.total_bounds)
    fmap = folium.Map(location=[(miny + maxy) / 2, (minx + maxx) / 2], zoom_start=4)
    basins = folium.FeatureGroup(name="Basins (study areas)")
    for row in areas.itertuples():
        ran = row.status == "ok"
        link = f"<br><a href='{html.escape(row.folder)}/map.html'>the basin's own map</a>"
        popup = (
            f"<b>{html.escape(row.title)}</b> (<code>{html.escape(row.basin)}</code>)<br>"
            f"{row.mines} mines, {num(row.output_mtpa)} Mt/yr<br>CRS {html.escape(row.crs)}"
            + (link if ran and row.folder else "")
            + ("" if ran else f"<br><i>skipped: {html.escape(row.message)}</i>")
        )
        shape = folium.GeoJson(
            row.geometry.__geo_interface__,
            style_function=lambda _, ok=ran: {
                "color": "#1f4e79" if ok else "#999999",
                "weight": 1.5,
                "fillOpacity": 0.08 if ok else 0.03,
                "dashArray": None if ok else "4 4",
            },
            tooltip=html.escape(f"{row.title}: {row.status}"),
        )
        folium.Popup(popup, max_width=320).add_to(shape)
        shape.add_to(basins)
    basins.add_to(fmap)
    sites = result.sites
    add_sites(fmap, sites, s.profiles, where="basin")
    folium.LayerControl(collapsed=False).add_to(fmap)
    ran = sum(b.status == "ok" for b in result.basins)
    add_title(
        fmap,
        s,
        [
            f"scenario <code>{html.escape(s.name)}</code> · {len(result.basins)} basins "
            f"({ran} run) · grid {s.resolution:g} m · {len(sites)} proposed sites",
            f"<span class='scores'>{html.escape(SCORES_NOTE)}</span>",
        ],
    )
    fmap.fit_bounds([[miny, minx], [maxy, maxx]])
    return fmap


def write_map(result: NationalResult, path: Path, offline: bool = True) -> Path:
    """Write the national ``map.html`` (self-contained when ``offline``)."""
    page = build_map(result).get_root().render()
    path.write_text(inline_assets(page) if offline else page, encoding="utf-8")
    return path


# --- report -------------------------------------------------------------------------------------


def report_blocks(result: NationalResult) -> list[Block]:
    """The national report: summary per basin, best sites, skipped basins."""
    s = result.scenario
    profiles = list(s.profiles)
    ok = [b for b in result.basins if b.status == "ok"]
    skipped = [b for b in result.basins if b.status != "ok"]
    blocks: list[Block] = [
        Heading(1, s.title),
        Para(
            [
                f"National run of scenario {s.name!r}: {len(result.basins)} basins, each run as "
                f"its own scenario in its own UTM zone at {s.resolution:g} m "
                f"({result.workers}, {result.seconds:.0f} s). {len(ok)} ran and proposed "
                f"{len(result.sites)} sites; {len(skipped)} were skipped. {SCORES_NOTE}"
            ]
        ),
        Heading(2, "Basins", "basins"),
        Table(
            [
                "basin",
                "mines",
                "output (Mt/yr)",
                *[f"{s.profiles[p].title} sites" for p in profiles],
                "CRS",
                "seconds",
                "status",
            ],
            [
                [
                    b.name,
                    str(b.mines),
                    num(b.output),
                    *[_count(b, p) for p in profiles],
                    b.crs,
                    f"{b.seconds:.1f}",
                    b.status,
                ]
                for b in result.basins
            ],
            numeric=[False, True, True, *[True] * len(profiles), False, True, False],
        ),
        Heading(2, "Best site of each basin", "best"),
    ]
    for p in profiles:
        rows = []
        for b in ok:
            top = b.sites[(b.sites["profile"] == p) & (b.sites["rank"] == 1)]
            if len(top):
                t = top.iloc[0]
                where = str(t.get("near") or "") or f"{t['lat']:.4f} N, {t['lon']:.4f} E"
                rows.append([b.name, str(t["site_id"]), num(t["score"]), where])
        blocks += [
            Heading(3, s.profiles[p].title),
            Table(["basin", "site", "score", "where"], rows, numeric=[False, False, True, False]),
        ]
    blocks.append(Heading(2, "Each basin's own outputs", "outputs"))
    blocks.append(
        Bullets([[Link(b.title, f"{b.folder}/report.html")] for b in ok if b.folder is not None])
    )
    if skipped:
        blocks.append(Heading(2, "Skipped basins", "skipped"))
        blocks.append(Bullets([[f"{b.title} ({b.mines} mines): {b.message}"] for b in skipped]))
    return blocks


def _count(b: BasinRun, profile: str) -> str:
    return str(int((b.sites["profile"] == profile).sum())) if len(b.sites) else "0"


# --- run.json -----------------------------------------------------------------------------------


def run_info(result: NationalResult) -> dict[str, Any]:
    """The national ``run.json``: the scenario, where it ran, and each basin's summary."""
    s = result.scenario
    return {
        "siting_version": siting.__version__,
        "written_utc": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "scenario": {"name": s.name, "title": s.title, "source": str(s.source or "")},
        "kind": "national",
        "resolution_m": s.resolution,
        "ran_on": result.workers,
        "seconds": round(result.seconds, 1),
        "sites": len(result.sites),
        "basins": [
            {
                "name": b.name,
                "title": b.title,
                "status": b.status,
                "message": b.message,
                "mines": b.mines,
                "output_mtpa": None if math.isnan(b.output) else b.output,
                "crs": b.crs,
                "sites": len(b.sites),
                "seconds": round(b.seconds, 1),
                "folder": b.folder,
            }
            for b in result.basins
        ],
    }
