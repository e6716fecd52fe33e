"""The report's flow figure of the value chain (``report_files/chain_flows.png``): the synthetic
world with the chain of ``tests/test_chain_run.py``, its tonnes through every echelon checked by
hand, the figure written, referenced and cached; none without ``[models.chain]``."""

import matplotlib.image
import numpy as np
import pytest
from test_chain_run import CHAIN, OPEN_PIT, UNDERGROUND

import siting
from siting.exports.report import chainfig
from siting.exports.report import document as report

from clitools import edit

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
NAME = "chain_flows.png"
#: The chain's yields (CHAIN): preparation by coal type, coke.
PREP_UNDERGROUND, PREP_OPEN_PIT, COKE = 0.8, 0.7, 0.75


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """The world with the chain, run and written (outputs and cache in ``root/out``)."""
    from conftest import make_world

    world = make_world(tmp_path_factory.mktemp("chain_report"))
    return siting.run(edit(world, "[outputs]", CHAIN))


def _conserved(totals):
    """Every echelon ships on, lets leave or loses what it receives; the next one receives what
    it ships on."""
    for echelon, row in totals.iterrows():
        parts = row["onward"] + row["leaves"] + row["loss"]
        assert parts == pytest.approx(row["input"], rel=1e-6), echelon
        assert row["output"] == pytest.approx(row["onward"] + row["leaves"], rel=1e-6), echelon
    for before, after in zip(totals.index[:-1], totals.index[1:], strict=True):
        assert totals.loc[before, "onward"] == pytest.approx(totals.loc[after, "input"], rel=1e-6)


def test_echelon_totals_are_the_hand_computed_tonnes_and_conserve_them(run):
    totals = chainfig.echelon_totals(run.chain)
    assert list(totals.index) == ["mines", "prep", "coke", "markets"]
    mined = UNDERGROUND + OPEN_PIT  # 26 Mt/yr
    concentrate = PREP_UNDERGROUND * UNDERGROUND + PREP_OPEN_PIT * OPEN_PIT  # 8.8 + 10.5
    coking = PREP_UNDERGROUND * UNDERGROUND  # only the underground type feeds the coke plants
    expected = {
        "mines": (mined, mined, mined, 0.0, 0.0),
        "prep": (mined, concentrate, coking, PREP_OPEN_PIT * OPEN_PIT, mined - concentrate),
        "coke": (coking, COKE * coking, COKE * coking, 0.0, (1 - COKE) * coking),
        "markets": (COKE * coking, COKE * coking, 0.0, COKE * coking, 0.0),
    }
    columns = ["input", "output", "onward", "leaves", "loss"]
    for echelon, values in expected.items():
        for column, value in zip(columns, values, strict=True):
            assert totals.loc[echelon, column] == pytest.approx(value, rel=1e-6, abs=1e-9), (
                echelon,
                column,
            )
    _conserved(totals)


def test_the_report_draws_the_flow_figure(run):
    out = run.output_dir
    path = out / "report_files" / NAME
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    image = matplotlib.image.imread(path)
    height, width = image.shape[:2]
    # A map above a bar chart, at the report's 100 dpi: about 10 × 9 inches.
    assert 800 <= width <= 1400 and 700 <= height <= 1400
    # The map (the upper part) draws each stage's flows in its colour at 80 % opacity, so over
    # white land their pixels are 0.8 × colour + 0.2 × white (± rounding of the antialiasing).
    upper = np.round(image[: int(0.7 * height), :, :3] * 255)
    for stage, color in chainfig.STAGE_COLORS.items():
        rgb = np.array([int(color[k : k + 2], 16) for k in (1, 3, 5)])
        over_white = 0.8 * rgb + 0.2 * 255
        assert (np.abs(upper - over_white).max(axis=-1) <= 2).sum() >= 20, stage
    assert NAME in report.figure_names(run)
    assert report.figure_names(run)[-1] == NAME  # the chain's section comes after the models'
    md = (out / "report.md").read_text(encoding="utf-8")
    section = md.split("## The value chain", 1)[1].split("\n## ", 1)[0]
    assert f"](report_files/{NAME})" in section
    assert "line width proportional to tonnes (Mt/yr)" in section
    page = (out / "report.html").read_text(encoding="utf-8")
    assert page.count("<img") == len(report.figure_names(run))


def test_a_rerun_takes_the_flow_figure_from_the_cache(run):
    again = siting.run(run.scenario.source)
    hits = {e.label: e.hit for e in again.cache.events}
    assert hits[f"report figure {NAME}"] is True
    assert (again.output_dir / "report_files" / NAME).read_bytes().startswith(PNG_SIGNATURE)


def test_without_markets_the_coke_leaves_at_the_plants(tmp_path):
    from conftest import make_world

    world = make_world(tmp_path)
    text = CHAIN.replace('markets = "anchors"\n', "").replace(
        "markets_where = \"kind == 'ugle_naukograd'\"\n", ""
    )
    result = siting.run(edit(world, "[outputs]", text), write=False)
    totals = chainfig.echelon_totals(result.chain)
    coking = PREP_UNDERGROUND * UNDERGROUND
    assert totals.loc["coke", "leaves"] == pytest.approx(COKE * coking, rel=1e-6)
    assert totals.loc["coke", "onward"] == 0.0
    assert totals.loc["markets", "input"] == 0.0
    _conserved(totals)
    assert chainfig.flows(result).startswith(PNG_SIGNATURE)


def test_a_run_without_a_chain_has_no_flow_figure(synthetic_run):
    assert synthetic_run.chain is None
    assert NAME not in report.figure_names(synthetic_run)
    assert not (synthetic_run.output_dir / "report_files" / NAME).exists()
    md = (synthetic_run.output_dir / "report.md").read_text(encoding="utf-8")
    assert NAME not in md and "## The value chain" not in md
    with pytest.raises(ValueError, match=r"\[models\.chain\]"):
        chainfig.flows(synthetic_run)
