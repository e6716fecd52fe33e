"""The outputs of a tiled run (:class:`~siting.scale.tiled_run.TiledRun`): what can be written
without gathering a grid on one machine.

- ``suitability_<profile>.tif``: the COGs, written tile by tile by the run itself;
- ``siting.gpkg``: ``proposed_sites``, ``candidate_patches`` and, with ``[models.allocation]``,
  ``allocation_plants``, in the run's CRS;
- ``map.html``: the sites by profile (no raster overlay: the grid stays on the cluster);
- ``run.json``: the scenario, the grid and its chunks, the cost-distance searches and timings.

A tiled run has no covering model, value chain, growth poles, report or QGIS project: they need
the whole grid in one process; the documentation (Scaling out) says so.
"""

from __future__ import annotations

import html
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import folium

import siting
from siting.config.values import LONLAT
from siting.exports.webmap.offline import inline_assets
from siting.exports.webmap.sitemap import add_sites, add_title

if TYPE_CHECKING:
    from siting.scale.tiled_run import TiledRun


def write(run: TiledRun, folder: Path) -> None:
    """Write the tiled run's outputs (the COGs are already there) into ``folder``."""
    s = run.scenario
    gpkg = folder / "siting.gpkg"
    run.sites.to_file(gpkg, layer="proposed_sites", driver="GPKG", engine="pyogrio")
    if run.patches is not None and len(run.patches):
        run.patches.to_file(gpkg, layer="candidate_patches", driver="GPKG", engine="pyogrio")
    if run.allocation is not None:
        plants = run.sites[run.sites["site_id"].astype(str).isin(run.allocation.plants)]
        plants.to_file(gpkg, layer="allocation_plants", driver="GPKG", engine="pyogrio")
    if s.outputs.map:
        page = build_map(run).get_root().render()
        text = inline_assets(page) if s.outputs.offline_map else page
        (folder / "map.html").write_text(text, encoding="utf-8")
    (folder / "run.json").write_text(
        json.dumps(run_info(run), indent=2, ensure_ascii=False, default=str) + "\n",
        encoding="utf-8",
    )


def build_map(run: TiledRun) -> folium.Map:
    """The sites of a tiled run on a folium map."""
    s = run.scenario
    sites = run.sites.to_crs(LONLAT)
    sites = sites.assign(lon=sites.geometry.x, lat=sites.geometry.y)
    minx, miny, maxx, maxy = (float(v) for v in sites.total_bounds)
    fmap = folium.Map(location=[(miny + maxy) / 2, (minx + maxx) / 2], zoom_start=8)
    add_sites(fmap, sites, s.profiles)
    folium.LayerControl(collapsed=False).add_to(fmap)
    add_title(
        fmap,
        s,
        [
            f"scenario <code>{html.escape(s.name)}</code> · tiled grid {run.grid.width} × "
            f"{run.grid.height} cells of {run.grid.res:g} m in {run.n_chunks} chunks · "
            f"{len(sites)} proposed sites",
            "suitability: the GeoTIFFs beside this map (the grid stays on the cluster)",
        ],
    )
    fmap.fit_bounds([[miny, minx], [maxy, maxx]])
    return fmap


def run_info(run: TiledRun) -> dict[str, Any]:
    """The tiled run's ``run.json``."""
    s = run.scenario
    return {
        "siting_version": siting.__version__,
        "written_utc": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "scenario": {"name": s.name, "title": s.title, "source": str(s.source or "")},
        "kind": "tiled",
        "crs": s.crs,
        "grid": {
            "width": run.grid.width,
            "height": run.grid.height,
            "resolution_m": run.grid.res,
            "chunks": [list(c) for c in run.chunks],
            "n_chunks": run.n_chunks,
        },
        "distance_caps_m": run.caps,
        "cost_searches": run.cost_searches,
        "site_rounds": run.site_rounds,
        "sites": len(run.sites),
        "suitability_cogs": {k: Path(v).name for k, v in run.cogs.items()},
        "allocation": None
        if run.allocation is None
        else {
            "plants": run.allocation.plants,
            "objective": run.allocation.objective,
            "gap": run.allocation.gap,
            "costs": "windowed per-candidate searches on the tiled friction",
        },
        "timings_s": {k: round(v, 2) for k, v in run.timings.items()},
    }
