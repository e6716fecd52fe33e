"""The user-facing errors are also the builtin exceptions that describe them (issue #17)."""

from __future__ import annotations

import pickle

import pytest

from siting.errors import (
    DataFileError,
    InfeasibleError,
    LayerError,
    LayerNotFoundError,
    ScenarioError,
    SitingError,
)

KINDS = [
    (ScenarioError, ValueError),
    (LayerError, ValueError),
    (LayerNotFoundError, FileNotFoundError),
    (LayerNotFoundError, LayerError),
    (InfeasibleError, ValueError),
    (DataFileError, ValueError),
]


@pytest.mark.parametrize(("error", "builtin"), KINDS)
def test_each_error_is_its_builtin_and_a_siting_error(error: type, builtin: type) -> None:
    assert issubclass(error, SitingError)
    assert issubclass(error, builtin)
    with pytest.raises(builtin) as caught:
        raise error("layer 'mines': file not found: mines.gpkg", "fix layers.mines.path")
    assert caught.value.message == "layer 'mines': file not found: mines.gpkg"
    assert caught.value.fix == "fix layers.mines.path"


@pytest.mark.parametrize(
    "error",
    [SitingError, ScenarioError, LayerError, LayerNotFoundError, InfeasibleError, DataFileError],
)
def test_message_names_the_fix(error: type[SitingError]) -> None:
    exc = error("weights.x is negative", "weights must be >= 0")
    assert str(exc) == "weights.x is negative\n  fix: weights must be >= 0"
    # Without a fix, the message alone; a copy (as a worker process sends it back) is the same.
    assert str(error("no cell is left")) == "no cell is left"
    copy = pickle.loads(pickle.dumps(exc))
    assert type(copy) is error
    assert (str(copy), copy.message, copy.fix) == (str(exc), exc.message, exc.fix)


def test_siting_error_is_no_builtin_kind() -> None:
    # The command line's own errors (a bad option) are neither a ValueError nor an OSError, and
    # a ValueError that is not a SitingError stays a bug with its traceback.
    assert not issubclass(SitingError, (ValueError, OSError))
    assert not issubclass(ValueError, SitingError)


def test_missing_layer_file_raises_file_not_found(tmp_path) -> None:
    from siting.raster.grid import Grid
    from siting.raster.terrain import read_dem

    grid = Grid.from_bounds((0.0, 0.0, 1000.0, 1000.0), 100.0, "EPSG:32645")
    with pytest.raises(FileNotFoundError, match=r"fix: fix terrain\.dem"):
        read_dem(tmp_path / "absent.tif", grid)
