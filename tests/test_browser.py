"""The web map in a real browser: Debian's headless Chromium driven by Selenium, offline."""

import shutil
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

import siting
from siting.exports.report import document as report
from siting.exports.webmap import caveat

ROOT = Path(__file__).resolve().parents[1]
# Basemap tiles are the one thing the offline map still fetches; everything else must load.
TILE_HOSTS = ("tile.openstreetmap.org", "arcgisonline.com", "opentopomap.org")

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-sync",
        "--disable-component-update",
        "--window-size=1400,1000",
        # No network at all: a CDN link left in the page would fail and be logged.
        "--host-resolver-rules=MAP * ~NOTFOUND",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(shutil.which("chromedriver") or "/usr/bin/chromedriver")
    driver = webdriver.Chrome(service=service, options=options)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    # The embedded Kuzbass scenario on a coarse grid: every kind of layer, quickly.
    return siting.run(resolution=1000, output_dir=tmp_path_factory.mktemp("out"))


@pytest.fixture(scope="module")
def page(browser, result):
    browser.get((result.output_dir / "map.html").as_uri())
    WebDriverWait(browser, 30).until(
        lambda d: (
            d.execute_script("return document.readyState") == "complete"
            and d.find_elements(By.CSS_SELECTOR, ".leaflet-control-layers")
        )
    )
    return browser


def map_var(driver) -> str:
    return driver.execute_script(
        "return Object.keys(window).find(k => k.startsWith('map_') && window[k] instanceof L.Map)"
    )


def test_no_console_errors_offline(page):
    errors = [
        e
        for e in page.get_log("browser")
        if e["level"] == "SEVERE" and not any(host in e["message"] for host in TILE_HOSTS)
    ]
    assert errors == []
    assert page.execute_script("return typeof L.control.groupedLayers") == "function"


def test_layer_control_lists_every_layer(page, result):
    labels = {
        e.text.strip()
        for e in page.find_elements(By.CSS_SELECTOR, ".leaflet-control-layers label")
        if e.get_attribute("textContent")
    }
    labels = {
        e.get_attribute("textContent").strip()
        for e in page.find_elements(By.CSS_SELECTOR, ".leaflet-control-layers label")
    }
    expected = {
        "OpenStreetMap",
        "Satellite (Esri World Imagery)",
        "Terrain (OpenTopoMap)",
        "Study area",
        "Growth poles (mine clusters)",
        "Mines (size = output, colour = status)",
        "Settlements (size = population)",
        "Haul routes: mine → plant (width = output)",
        "Growth-pole Weber points (★ snapped to eligible land)",
        "Technoparks kept open (existing, ★)",
        "Technoparks new (maximal covering, ◆)",
        f"Demand reached within {result.scenario.covering.max_minutes:g} min (green) or not (red)",
    }
    for p in result.scenario.profiles.values():
        expected |= {f"Suitability: {p.title}", f"Exclusions: {p.title}", f"Sites: {p.title}"}
    for name, raster in result.criteria.items():
        expected.add(f"Criterion: {name}" + (f" ({raster.units})" if raster.units else ""))
    # The schematic layers of the embedded scenario say so in their names.
    for layer, title in (
        ("rail", "Rail"),
        ("roads", "Roads"),
        ("rivers", "Rivers"),
        ("water", "Lakes and reservoirs"),
        ("protected_areas", "Protected areas"),
    ):
        expected.add(caveat.layer_name(result.scenario, layer, title))
    assert "Rail (schematic, ±5 km)" in expected
    assert expected <= labels, expected - labels


def test_the_caveat_on_schematic_layers_is_visible(page):
    box = page.find_element(By.ID, "siting-caveat")
    assert box.is_displayed()
    assert box.size["height"] > 10 and box.size["width"] > 100
    assert "Schematic layers: boundary (±8 km)" in box.text and "rail (±5 km)" in box.text
    assert box.find_element(By.TAG_NAME, "a").get_attribute("href").endswith("PROVENANCE.md")


def click_site(page, site) -> str:
    """Click a site's marker like a user (at its pixel position) and return the popup's text."""
    m = map_var(page)
    x, y = page.execute_script(
        f"var p = {m}.latLngToContainerPoint([{site['lat']}, {site['lon']}]); return [p.x, p.y];"
    )
    container = page.find_element(By.CSS_SELECTOR, ".folium-map")
    size = container.size
    ActionChains(page).move_to_element_with_offset(
        container, x - size["width"] / 2, y - size["height"] / 2
    ).click().perform()
    # Wait for the popup's text, not only its element: on a loaded machine Leaflet may show the
    # popup's frame a moment before its content is laid out.
    return WebDriverWait(page, 10).until(
        lambda d: d.find_element(By.CSS_SELECTOR, ".leaflet-popup-content").text or False
    )


def test_clicking_the_top_site_opens_its_popup(page, result):
    top = result.sites[(result.sites["profile"] == "processing_plant")].iloc[0]
    text = click_site(page, top)
    assert "rank 1" in text and f"score {top['score']:.3f}" in text
    assert f"{result.scenario.profiles['processing_plant'].title} #1" in text


def test_clicking_a_new_technopark_opens_its_covering_popup(page, result):
    c = result.covering
    sites = c.sites.to_crs("EPSG:4326")
    new = sites[sites["status"] == "new"].iloc[0]
    m = map_var(page)
    page.execute_script(
        f"window._view = [{m}.getCenter(), {m}.getZoom()]; {m}.closePopup(); "
        f"{m}.setView([{new.geometry.y}, {new.geometry.x}], 15, {{animate: false}});"
    )
    container = page.find_element(By.CSS_SELECTOR, ".folium-map")
    ActionChains(page).move_to_element(container).click().perform()  # the view's centre
    try:
        text = WebDriverWait(page, 10).until(  # the text, not just the element (see click_site)
            lambda d: (
                d.find_element(By.CSS_SELECTOR, ".leaflet-popup-content .covering-popup").text
                or False
            )
        )
        n = int(new["n_covered"])
        assert f"(new: {new['site_id']}, score {new['score']:.3f})" in text
        assert (
            f"covers {new['covered_weight']:,.0f} population in {n} "
            f"{'settlement' if n == 1 else 'settlements'} within {c.max_minutes:g} min" in text
        )
    finally:
        page.execute_script(  # back to the view the other tests click in, even on a failure
            f"{m}.closePopup(); {m}.setView(window._view[0], window._view[1], {{animate: false}});"
        )


def test_toggling_a_layer_hides_it(page, result):
    title = result.scenario.profiles["processing_plant"].title
    m = map_var(page)
    count = (
        f"var n = 0; {m}.eachLayer(function (l) {{ var t = l.getTooltip && l.getTooltip();"
        f" if (t && String(t.getContent()).indexOf('{title} #') >= 0) n++; }});"
        " return n;"
    )
    n_sites = int((result.sites["profile"] == "processing_plant").sum())
    assert page.execute_script(count) == n_sites
    label = next(
        e
        for e in page.find_elements(By.CSS_SELECTOR, ".leaflet-control-layers label")
        if e.get_attribute("textContent").strip() == f"Sites: {title}"
    )
    checkbox = label.find_element(By.CSS_SELECTOR, "input")
    page.execute_script("arguments[0].scrollIntoView()", checkbox)
    checkbox.click()
    assert page.execute_script(count) == 0
    checkbox.click()
    assert page.execute_script(count) == n_sites


def test_screenshot_is_saved_under_outputs(page, result):
    click_site(page, result.sites.iloc[0])  # with the top site's popup open
    page.execute_script("document.querySelector('.leaflet-control-layers-expanded').scrollTop = 0")
    path = ROOT / "outputs" / "screenshots" / "map.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    assert page.save_screenshot(str(path))
    assert path.stat().st_size > 10_000


def test_comparison_map_opens_offline(browser, result, tmp_path):
    from siting.exports.webmap import page as webmap

    other = siting.run(result.scenario.with_overrides(name="what-if", resolution=2000), write=False)
    path = webmap.write_comparison(
        result, other, tmp_path / "compare.html", labels=("1 km grid", "2 km grid")
    )
    browser.get_log("browser")  # drop what the earlier page logged
    browser.get(path.as_uri())
    WebDriverWait(browser, 30).until(
        lambda d: len(d.find_elements(By.CSS_SELECTOR, ".folium-map")) == 2
    )
    errors = [
        e
        for e in browser.get_log("browser")
        if e["level"] == "SEVERE" and not any(host in e["message"] for host in TILE_HOSTS)
    ]
    assert errors == []
    maps = browser.execute_script(
        "return Object.keys(window).filter(k => k.startsWith('map_') && window[k] instanceof L.Map)"
        ".length"
    )
    assert maps == 2


def test_report_opens_offline_with_every_figure(browser, result):
    browser.get_log("browser")
    browser.get((result.output_dir / "report.html").as_uri())
    WebDriverWait(browser, 30).until(
        lambda d: d.execute_script("return document.readyState") == "complete"
    )
    # Basemap tiles the earlier map page asked for can still fail after it was left; the
    # report itself links nothing outside.
    errors = [
        e
        for e in browser.get_log("browser")
        if e["level"] == "SEVERE" and not any(host in e["message"] for host in TILE_HOSTS)
    ]
    assert errors == []
    widths = browser.execute_script(
        "return Array.from(document.images).map(function (i) { return i.naturalWidth; })"
    )
    # Study area, criteria, one suitability map per profile, the Pareto front, the chain's flows.
    assert len(widths) == len(report.figure_names(result)) == 4 + len(result.scenario.profiles)
    assert all(w > 200 for w in widths)
    body = browser.find_element(By.TAG_NAME, "body").text
    top = result.sites.iloc[0]
    assert top["site_id"] in body and f"{top['score']:.3f}" in body


def test_the_robustness_legend_is_visible(browser, result):
    # Opened again: an earlier test may have left the browser on the report.
    browser.get((result.output_dir / "map.html").as_uri())
    box = browser.find_element(By.ID, "siting-robustness")
    spec, n = result.robustness.spec, result.robustness.n
    assert box.is_displayed() and box.size["height"] > 10
    assert f"robust: in the plan in ≥ {100 * spec.robust:.0f} % of {n} draws" in box.text
