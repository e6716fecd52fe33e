"""The default run at 1 km against its golden file (``scripts/golden.py record``): a refactoring
changes no result; a deliberate change of the model records the file again, in its own commit.

Scores are compared to 1e-9, far above the few units in the last place that another CPU's
floating point may move them, and far below what would change a ranking a planner reads.
"""

import json

import pytest

import siting

from conftest import ROOT

pytestmark = pytest.mark.slow


def _summary(result):
    import importlib.util

    spec = importlib.util.spec_from_file_location("golden", ROOT / "scripts" / "golden.py")
    golden = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(golden)
    return golden.summary(result)


def test_default_run_at_1km_equals_the_golden_file():
    want = json.loads((ROOT / "tests" / "golden" / "kuzbass_1km.json").read_text())
    got = _summary(siting.run(resolution=1000, write=False, cache=False))
    assert len(got["sites"]) == len(want["sites"])
    for g, w in zip(got["sites"], want["sites"], strict=True):
        assert (g["site_id"], g["profile"], g["rank"]) == (w["site_id"], w["profile"], w["rank"])
        assert g["score"] == pytest.approx(w["score"], abs=1e-9)
        assert (g["x"], g["y"]) == (w["x"], w["y"])  # cell centres: exact
    ga, wa = got["allocation"], want["allocation"]
    assert ga["p"] == wa["p"]
    assert ga["transport"] == pytest.approx(wa["transport"], rel=1e-9)
    for g, w in zip(ga["plants"], wa["plants"], strict=True):
        assert (g["site_id"], g["n_served"]) == (w["site_id"], w["n_served"])
        assert g["served_weight"] == pytest.approx(w["served_weight"], rel=1e-9)
    gc, wc = got["covering"], want["covering"]
    for k in ("coverage", "baseline", "total"):
        assert gc[k] == pytest.approx(wc[k], rel=1e-9)
    assert [s[:2] for s in gc["sites"]] == [s[:2] for s in wc["sites"]]
    for g, w in zip(gc["sites"], wc["sites"], strict=True):
        assert g[2] == pytest.approx(w[2], rel=1e-9)
