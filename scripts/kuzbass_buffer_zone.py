"""Derive the Kuznetsk Alatau reserve's buffer zone for the embedded Kuzbass layers.

The reserve's descriptions give the zone's area (2,230 km², along the perimeter of the reserve)
but no outline: the zone is drawn as a ring along the hand-drawn reserve outline whose width
makes the whole ring that area, clipped to the oblast outline (the Khakassia side falls away).
Run from the repository root; it rewrites the ``buffer_zone`` feature of
``layers/kuzbass/protected_areas.geojson`` (one feature per line, 5 decimals).
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import shapely
from scipy.optimize import brentq

LAYERS = Path("layers/kuzbass")
AREA_KM2 = 2230.0
UTM = 32645  # UTM zone 45N, the scenario's CRS: metres


def main() -> None:
    path = LAYERS / "protected_areas.geojson"
    doc = json.loads(path.read_text(encoding="utf-8"))
    features = [f for f in doc["features"] if f["properties"].get("kind") != "buffer_zone"]
    reserve = next(f for f in features if f["properties"]["kind"] == "zapovednik")
    outline = shapely.geometry.shape(reserve["geometry"])
    g = gpd.GeoSeries([outline], crs=4326).to_crs(UTM).iloc[0]

    def ring_km2(width: float) -> float:
        return g.buffer(width, 32).difference(g).area / 1e6

    width = brentq(lambda w: ring_km2(w) - AREA_KM2, 100, 50_000)
    boundary = gpd.read_file(LAYERS / "boundary.geojson").to_crs(UTM).union_all()
    zone = shapely.simplify(g.buffer(width, 32).difference(g).intersection(boundary), 200)
    print(
        f"width {width / 1000:.2f} km, ring {ring_km2(width):.0f} km², "
        f"in the oblast {zone.area / 1e6:.0f} km²"
    )
    geom = shapely.set_precision(gpd.GeoSeries([zone], crs=UTM).to_crs(4326).iloc[0], 1e-5)
    feature = {
        "type": "Feature",
        "properties": {
            "name": "Kuznetsk Alatau Nature Reserve buffer zone",
            "name_ru": "Охранная зона заповедника «Кузнецкий Алатау»",
            "kind": "buffer_zone",
            "area_km2": AREA_KM2,
        },
        "geometry": shapely.geometry.mapping(geom),
    }
    features.insert(features.index(reserve) + 1, feature)
    lines = ",\n".join(json.dumps(f, ensure_ascii=False, separators=(", ", ": ")) for f in features)
    path.write_text(
        '{"type": "FeatureCollection", "features": [\n' + lines + "\n]}\n", encoding="utf-8"
    )


if __name__ == "__main__":
    main()
