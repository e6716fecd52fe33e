"""DEM and slope: analytic ramps, the slope exclusion in a run, and DEM errors."""

import numpy as np
import pytest
import rasterio
from affine import Affine

import siting
from siting.errors import LayerError, ScenarioError
from siting.raster.grid import Grid
from siting.raster.terrain import read_dem, slope

from conftest import CRS, X0, Y0


def write_dem(path, fn, res=100.0, size=42_000.0, crs=CRS):
    n = int(size / res)
    x = X0 - 1000 + (np.arange(n) + 0.5) * res
    elevation = fn(np.broadcast_to(x - X0, (n, n))).astype(np.float32)
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=n,
        height=n,
        count=1,
        dtype="float32",
        crs=crs,
        transform=Affine(res, 0, X0 - 1000, 0, -res, Y0 + 41_000),
    ) as dst:
        dst.write(elevation, 1)
    return path


def test_slope_of_a_ramp_is_its_arctangent(tmp_path):
    dem_path = write_dem(tmp_path / "ramp.tif", lambda x: 200 + 0.1 * x)
    grid = Grid.from_bounds((X0, Y0, X0 + 40_000, Y0 + 40_000), 250.0, CRS)
    dem = read_dem(dem_path, grid)
    xs, _ = grid.centers()
    # GDAL's bilinear kernel widens when downsampling (100 m → 250 m): within 0.25 m.
    np.testing.assert_allclose(dem.data[10], 200 + 0.1 * (xs - X0), atol=0.25)
    s = slope(dem)
    inner = s.data[1:-1, 1:-1]  # edges use one-sided differences
    np.testing.assert_allclose(inner, np.degrees(np.arctan(0.1)), rtol=1e-4)


def gentle_then_steep(x):
    # 2.9° west of x = 20 km, 16.7° east of it.
    return 100 + 0.05 * x + 0.3 * np.clip(x - 20_000, 0, None)


def test_steep_land_is_excluded_from_sites(world):
    write_dem(world / "dem.tif", gentle_then_steep)
    path = world / "scenario.toml"
    text = path.read_text().replace(
        'title = "Processing plant"', 'title = "Processing plant"\nmax_slope_deg = 10'
    )
    path.write_text(text + '\n[terrain]\ndem = "dem.tif"\n')
    result = siting.run(path)
    surface = result.surfaces["processing_plant"]
    steep = surface.exclusions[surface.exclusions["layer"] == "terrain"]
    assert list(steep["reason"]) == ["slope > 10°"]
    sites = result.sites[result.sites["profile"] == "processing_plant"]
    assert len(sites) > 0
    assert (sites["x"] < X0 + 20_000 + 250).all()
    assert not sites.intersects(steep.geometry.iloc[0]).any()
    assert result.slope.sample(sites["x"].to_numpy(), sites["y"].to_numpy()).max() <= 10
    # The technopark profile sets no slope limit: the east stays open to it.
    rows, cols = result.grid.index(np.array([X0 + 38_000.0]), np.array([Y0 + 25_000.0]))
    assert np.isfinite(result.suitability("technopark").data[rows[0], cols[0]])
    with rasterio.open(result.output_dir / "criteria" / "slope.tif") as src:
        r, c = src.index(X0 + 5_000, Y0 + 20_000)
        assert src.read(1)[r, c] == pytest.approx(np.degrees(np.arctan(0.05)), rel=1e-3)


def test_max_slope_without_dem_is_a_scenario_error(world):
    path = world / "scenario.toml"
    path.write_text(
        path.read_text().replace(
            'title = "Processing plant"', 'title = "Processing plant"\nmax_slope_deg = 10'
        )
    )
    with pytest.raises(ScenarioError, match="max_slope_deg needs a DEM"):
        siting.load(path)


def test_dem_errors(tmp_path):
    grid = Grid.from_bounds((X0, Y0, X0 + 4000, Y0 + 4000), 250.0, CRS)
    with pytest.raises(LayerError, match="DEM not found"):
        read_dem(tmp_path / "none.tif", grid)
    (tmp_path / "bad.tif").write_text("not a raster")
    with pytest.raises(LayerError, match="cannot read DEM"):
        read_dem(tmp_path / "bad.tif", grid)
    far = write_dem(tmp_path / "far.tif", lambda x: x * 0)
    with rasterio.open(far, "r+") as dst:
        dst.transform = Affine(100.0, 0, X0 + 900_000, 0, -100.0, Y0)
    with pytest.raises(LayerError, match="does not overlap"):
        read_dem(far, grid)
