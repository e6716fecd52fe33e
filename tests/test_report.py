"""The planners' report: report.html (self-contained) and report.md with its PNG figures."""

import base64
import io
import re
import sys

import matplotlib.image
import numpy as np
import pytest

import siting
from siting.exports.report import document as report
from siting.exports.report import figures
from siting.exports.runinfo import sha256

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
EMBEDDED = re.compile(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)" alt="([^"]+)">')


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """The synthetic run (the ``world`` fixture's region and scenario) and its report."""
    from conftest import SCENARIO, write_world

    folder = tmp_path_factory.mktemp("world")
    write_world(folder)
    (folder / "scenario.toml").write_text(SCENARIO, encoding="utf-8")
    result = siting.run(folder / "scenario.toml", write=False)
    out = tmp_path_factory.mktemp("report")
    paths = report.write(result, out)
    page = (out / "report.html").read_text(encoding="utf-8")
    md = (out / "report.md").read_text(encoding="utf-8")
    return result, out, paths, page, md


def test_write_returns_the_files_it_wrote(written):
    result, out, paths, _, _ = written
    expected = {out / "report.md", out / "report.html"}
    expected |= {out / "report_files" / name for name in report.figure_names(result)}
    assert set(paths) == expected
    assert all(p.is_file() and p.stat().st_size > 0 for p in paths)


def test_html_carries_top_scores_and_the_ahp_consistency_ratio(written):
    result, _, _, page, md = written
    for name in result.scenario.profiles:
        sites = result.sites_of(name)
        assert len(sites), name  # the synthetic scenario proposes sites for every profile
        top = sites.loc[sites["rank"] == 1].iloc[0]
        cell = f'<td class="n">{top["score"]:.3f}</td>'
        assert cell in page, (name, cell)
        assert f"| {top['site_id']} | {top['score']:.3f} |" in md
    cr = result.scenario.profiles["technopark"].ahp_cr
    assert cr is not None and 0 <= cr < 0.1
    assert f"CR = {cr:.3f}" in page
    assert f"CR = {cr:.3f}" in md
    # The one-line summary is the run's grid, not a hard-coded one.
    g = result.grid
    line = f"grid {g.width:,} × {g.height:,} cells of {g.res:g} m"
    assert line in page and line in md


def test_html_embeds_one_png_per_promised_figure(written):
    result, _, _, page, _ = written
    promised = 1 + 1 + len(result.scenario.profiles)  # study area, criteria, suitability each
    assert len(report.figure_names(result)) == promised
    assert page.count("<img") == promised
    images = EMBEDDED.findall(page)
    assert len(images) == promised
    for data, alt in images:
        raw = base64.b64decode(data, validate=True)
        assert raw.startswith(PNG_SIGNATURE)
        pixels = matplotlib.image.imread(io.BytesIO(raw), format="png")
        assert pixels.ndim == 3 and min(pixels.shape[:2]) > 100, alt
        # More than one distinct colour: some pixel differs from the top-left one.
        assert np.any(pixels != pixels[:1, :1]), f"blank image: {alt}"
        assert alt.strip()


def test_html_needs_no_network(written):
    _, _, _, page, _ = written
    assert not re.search(r"""\b(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", page, re.I)
    assert not re.search(r"@import", page, re.I)
    assert not re.search(r"""url\(\s*["']?\s*(?:https?:)?//""", page, re.I)
    for attr in re.findall(r"""\b(?:src|href)\s*=\s*["']([^"']*)""", page, re.I):
        assert not attr.lower().startswith(("http://", "https://")), attr
    assert "<style>" in page and "<script" not in page


def test_markdown_figures_exist(written):
    result, out, _, _, md = written
    refs = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert refs == [f"report_files/{name}" for name in report.figure_names(result)]
    for ref in refs:
        assert (out / ref).is_file()
        assert (out / ref).read_bytes().startswith(PNG_SIGNATURE)


def test_both_files_have_the_same_sections_in_order(written):
    _, _, _, page, md = written
    html_heads = re.findall(r"<h2[^>]*>([^<]+)</h2>", page)
    md_heads = re.findall(r"^## (.+)$", md, re.M)
    assert html_heads == md_heads
    covering = ["Technoparks: maximal covering"] if written[0].covering is not None else []
    assert md_heads == [
        "Study area",
        "Scenario and weights",
        "Assumptions",
        "Criteria",
        "Suitability",
        "Top sites",
        "Growth poles",
        "Location-allocation",
        *covering,
        "Sensitivity: how robust the plan is",
        "How exact the layers are",
        "Data provenance and versions",
    ]
    # The default sensitivity ran: its section says how robust each site of the plan is.
    assert "sites, " in md and re.search(r"\d+ are robust, \d+ moderate and \d+ fragile", page)


def test_allocation_clusters_and_provenance_come_from_the_result(written):
    result, _, _, page, md = written
    a = result.allocation
    for plant in a.plants["site_id"]:
        assert f"<td>{plant}</td>" in page
    assert f"p = {a.p} plants" in md
    for demand in a.lines["demand"]:
        assert f"| {demand} |" in md
    for members in result.clusters["members"]:
        assert members in md
    for _, c in result.clusters.iterrows():  # no snap profile: the Weber point only
        assert f"| {c['weber_x']:,.0f} E, {c['weber_y']:,.0f} N | {c['members']} |" in md
    for name, spec in result.scenario.layers.items():
        digest = sha256(spec.path)[:12]
        assert f"| {name} | {spec.path.name} | {spec.reader} | {digest} | " in md
    for stage in result.timings:
        assert f"| {stage} |" in md


def test_no_pyplot_state_is_left(written):
    if "matplotlib.pyplot" in sys.modules:
        assert sys.modules["matplotlib.pyplot"].get_fignums() == []


def test_rasters_are_plotted_from_strided_views():
    data = np.zeros((5000, 3000), dtype=np.float32)
    view = figures.downsample(data, 800)
    assert max(view.shape) <= 800
    assert np.shares_memory(view, data)


def test_profile_without_site_is_said_plainly(world, tmp_path, caplog):
    path = world / "scenario.toml"
    text = path.read_text(encoding="utf-8")
    old = "min_area_ha = 10\nn_sites = 3"
    assert text.count(old) == 1  # the technopark profile
    path.write_text(text.replace(old, "min_area_ha = 1000000\nn_sites = 3"), encoding="utf-8")
    result = siting.run(path, write=False)
    assert "profile 'technopark': no patch of suitable land reaches" in caplog.text
    assert result.sites_of("technopark").empty
    out = tmp_path / "report"
    report.write(result, out)
    sentence = (
        "No site proposed for Technopark: no patch of the best 10 % of eligible land reaches "
        "1,000,000 ha."
    )
    page = (out / "report.html").read_text(encoding="utf-8")
    md = (out / "report.md").read_text(encoding="utf-8")
    assert sentence in page
    assert sentence in md
    # Its suitability map still renders, without sites; the other profiles keep theirs.
    assert page.count("<img") == len(report.figure_names(result))
    assert (out / "report_files" / "suitability_technopark.png").is_file()
    assert "No site proposed for Processing plant" not in md


def test_p_median_allocation_is_stated_with_its_proof_and_no_pareto(written):
    result, out, _, page, md = written
    a = result.allocation
    assert a.model == "p-median" and a.pareto is None  # the synthetic scenario's model
    for text in (md, page):
        assert (
            f"p-median: p = {a.p} plants, each demand feature served by its nearest open plant, "
            "minimising Σ weight × km" in text
        )
        assert f"Solver: {a.method}." in text
        assert f"proven gap {a.gap:.2%}" in text
        assert f"Transport Σ weight × km: {report.num(a.transport)} Mt·km/yr." in text
    assert a.objective == pytest.approx(a.transport)  # plain p-median: the objective is transport
    # (the assumptions table describes the pareto_steps key, set to 0: no section of its own)
    assert "Pareto front:" not in md and "pareto.png" not in report.figure_names(result)
    assert "utilisation" not in md  # no capacities
    for _, line in a.lines.iterrows():
        route = f"{line['km']:,.1f} | {line['route_km']:,.1f}"
        assert f" | {route} | {report.num(line['weight_x_km'])} |" in md
    # Nothing of the sweep is written either, and run.json says so.
    from siting.exports import gpkg, runinfo

    assert gpkg.write_pareto_csv(result, out / "pareto.csv") is None
    assert not (out / "pareto.csv").exists()
    info = runinfo.info(result)
    assert info["allocation"]["model"] == "p-median" and info["allocation"]["pareto"] is None
    assert info["allocation"]["capacity"] is None
    assert info["allocation"]["transport"] == pytest.approx(a.transport)
    if result.covering is None:
        assert info["covering"] is None
        assert "Technoparks: maximal covering" not in md
