"""Derive the embedded Russia layers (``layers/russia/``) from the public rows in shared data.

Reads ``../shared/data/russia/`` (relative to the repository; see its MANIFEST.md) and writes,
one feature per line, sorted by id so that a re-run gives the same bytes:

- ``mines.geojson``: Global Energy Monitor's Global Coal Mine Tracker, the non-closed rows of
  Russia, one feature per mine (``siting.inputs.sources.gem.parse_tracker``: decimal commas,
  several rows per mine). Rows whose cells are shifted are left out: they are exactly the rows of
  the closed-mines sheet laid into the non-closed sheet's columns (checked here), closed mines.
- ``settlements.geojson``: GeoNames towns of Russia with at least 15,000 people, without the
  *sections* of a populated place (feature code PPLX: a city's district carrying the city's
  population, e.g. "Khabarovsk Vtoroy").
- ``basins.geojson``: the study areas of the operating mines' basins
  (:func:`siting.scale.basins.split_basins` with :data:`LINK_KM`, :data:`BUFFER_KM`), the national
  scenario's study area.

Run from anywhere: ``.venv/bin/python scripts/russia_layers.py [--out DIR]`` (default
``layers/russia``). It prints what it kept and dropped, the counts PROVENANCE.md gives.
"""

from __future__ import annotations

import argparse
import json
import math
from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd

from siting.inputs.sources import gem
from siting.scale.basins import split_basins, write_areas

REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO / ".." / "shared" / "data" / "russia"
OUT = REPO / "layers" / "russia"

LINK_KM = 100.0
"""Operating mines closer than this (great-circle) share a basin."""
BUFFER_KM = 30.0
"""A basin's study area: the hull of its mines plus this."""
OPERATING = "operating"
"""The status of the mines the national scenario reads (its ``layers.mines.where``)."""
PROVINCE_SPELLINGS = {"Tuva": "Tyva"}
"""GEM writes the Republic of Tyva both ways; one spelling, the official one."""
GEONAMES_COLUMNS = [
    "geonames_id",
    "name",
    "asciiname",
    "alternatenames",
    "latitude",
    "longitude",
    "feature_class",
    "feature_code",
    "country",
    "cc2",
    "admin1",
    "admin2",
    "admin3",
    "admin4",
    "population",
    "elevation",
    "dem",
    "timezone",
    "modified",
]
CITY = 100_000
"""A settlement of at least this many people is a ``city``, else a ``town``."""
#: The GEM reader's mine columns written to the layer: all but the country (every row is
#: Russia's), the row count and the geometry.
MINE_FIELDS = tuple(f for f in gem.SCHEMA if f not in ("country", "n_rows", "geometry"))


def _plain(value: Any) -> Any:
    """A JSON value: NaN and pandas' NA as null, numpy numbers as Python numbers."""
    if value is None or value is pd.NA:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    return value.item() if hasattr(value, "item") else value


def _write(path: Path, features: list[dict[str, Any]]) -> None:
    lines = [json.dumps(f, ensure_ascii=False) for f in features]
    text = '{"type": "FeatureCollection", "features": [\n' + ",\n".join(lines) + "\n]}\n"
    path.write_text(text, encoding="utf-8")


def _point(lon: float, lat: float, digits: int) -> dict[str, Any]:
    return {"type": "Point", "coordinates": [round(float(lon), digits), round(float(lat), digits)]}


def mines(source: Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The mine features and the counts of what was read, dropped and repaired."""
    tracker = gem.parse_tracker(source / "gcmt_non_closed_russia.csv")
    closed = gem.read_gcmt_table(source / "gcmt_closed_russia.csv")
    dropped = sorted(i for _, _, i in tracker.dropped)
    closed_ids = sorted(closed[gem.ID_COL].str.strip())
    if dropped != closed_ids:  # the rule below rests on it: fail rather than ship a guess
        raise SystemExit(f"dropped rows {dropped} are not the closed sheet's {closed_ids}")
    table = tracker.mines.sort_values("gem_id").reset_index(drop=True)
    respelled = int(table["province"].isin(list(PROVINCE_SPELLINGS)).sum())
    table["province"] = table["province"].replace(PROVINCE_SPELLINGS)
    features = []
    for row in table.itertuples(index=False):
        props = {k: _plain(getattr(row, k)) for k in MINE_FIELDS}
        features.append(
            {
                "type": "Feature",
                "properties": props,
                "geometry": _point(row.geometry.x, row.geometry.y, 6),
            }
        )
    operating = table[table["status"] == OPERATING]
    counts = {
        "rows": tracker.rows,
        "dropped_rows": len(dropped),
        "mines": len(table),
        "status": dict(sorted(Counter(table["status"]).items())),
        "operating_without_output": sorted(
            operating.loc[operating["output_mtpa"].isna(), "gem_id"]
        ),
        "province_respelled": respelled,
    }
    return features, counts


def settlements(source: Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The settlement features and the counts of what was read and dropped."""
    df = pd.read_csv(
        source / "geonames_ru_cities15000.tsv",
        sep="\t",
        header=None,
        names=GEONAMES_COLUMNS,
        dtype=str,
        keep_default_na=False,
        quoting=3,  # csv.QUOTE_NONE: GeoNames has no quoting, names may hold quotes
    )
    sections = df["feature_code"] == "PPLX"
    kept = df[~sections].copy()
    kept["geonames_id"] = kept["geonames_id"].astype(int)
    kept["population"] = kept["population"].astype(int)
    kept = kept.sort_values("geonames_id")
    features = []
    for row in kept.itertuples(index=False):
        props = {
            "name": row.name,
            "population": int(row.population),
            "kind": "city" if row.population >= CITY else "town",
            "geonames_id": int(row.geonames_id),
            "admin1": row.admin1,
            "feature_code": row.feature_code,
        }
        geometry = _point(float(row.longitude), float(row.latitude), 5)
        features.append({"type": "Feature", "properties": props, "geometry": geometry})
    counts = {
        "rows": len(df),
        "sections_dropped": sorted(df.loc[sections, "name"]),
        "kept": len(kept),
    }
    return features, counts


def main(out: Path = OUT, source: Path = SOURCE) -> dict[str, Any]:
    """Write the layers into ``out``; return the counts."""
    import geopandas as gpd

    out.mkdir(parents=True, exist_ok=True)
    mine_features, mine_counts = mines(source)
    town_features, town_counts = settlements(source)
    _write(out / "mines.geojson", mine_features)
    _write(out / "settlements.geojson", town_features)
    layer = gpd.read_file(out / "mines.geojson")
    basins = split_basins(layer[layer["status"] == OPERATING], link_km=LINK_KM, buffer_km=BUFFER_KM)
    write_areas(basins, out / "basins.geojson")
    return {
        "mines": mine_counts,
        "settlements": town_counts,
        "basins": [(b.name, len(b.mines), b.crs) for b in basins],
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help="folder to write (layers/russia)")
    args = parser.parse_args()
    counts = main(args.out)
    print(json.dumps(counts, indent=1, ensure_ascii=False))
