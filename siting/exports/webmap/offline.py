"""Make a folium page self-contained: its scripts and styles inlined from vendored copies.

folium links Leaflet, jQuery, Bootstrap, d3 and plugins from public CDNs. On a closed network
that page is blank, so every such link is replaced by the file's content from
``siting/exports/static`` (vendored from the npm registry by ``scripts/vendor_web_assets.py``;
licences beside each). Only basemap tiles still come from the network.
"""

from __future__ import annotations

import base64
import mimetypes
import re
from functools import cache
from pathlib import Path

STATIC = Path(__file__).resolve().parent / "static"

# CDN URL pattern → vendored file. Patterns, not exact URLs, so a folium release that moves a
# CDN keeps working; a link that matches nothing fails loudly in `inline_assets`.
ASSETS: tuple[tuple[str, str], ...] = (
    (r"/leaflet@[\d.]+/dist/leaflet\.js$", "leaflet/leaflet.js"),
    (r"/leaflet@[\d.]+/dist/leaflet\.css$", "leaflet/leaflet.css"),
    (r"/jquery(-[\d.]+)?\.min\.js$", "jquery/jquery.min.js"),
    (
        r"/bootstrap@5[\d.]*/dist/js/bootstrap\.bundle\.min\.js$",
        "bootstrap/bootstrap.bundle.min.js",
    ),
    (r"/bootstrap@5[\d.]*/dist/css/bootstrap\.min\.css$", "bootstrap/bootstrap.min.css"),
    (r"/d3/3[\d.]*/d3\.min\.js$", "d3/d3.min.js"),
    (
        r"leaflet-measure@[\d.]+/dist/leaflet-measure\.min\.js$",
        "leaflet-measure/leaflet-measure.js",
    ),
    (
        r"leaflet-measure@[\d.]+/dist/leaflet-measure\.min\.css$",
        "leaflet-measure/leaflet-measure.css",
    ),
    (
        r"leaflet\.fullscreen@[\d.]+/Control\.FullScreen\.min\.js$",
        "leaflet.fullscreen/Control.FullScreen.js",
    ),
    (
        r"leaflet\.fullscreen@[\d.]+/Control\.FullScreen\.css$",
        "leaflet.fullscreen/Control.FullScreen.css",
    ),
    (
        r"leaflet-minimap/[\d.]+/Control\.MiniMap(\.min)?\.js$",
        "leaflet-minimap/Control.MiniMap.min.js",
    ),
    (
        r"leaflet-minimap/[\d.]+/Control\.MiniMap(\.min)?\.css$",
        "leaflet-minimap/Control.MiniMap.min.css",
    ),
    (
        r"leaflet-groupedlayercontrol/[\d.]+/leaflet\.groupedlayercontrol\.min\.js$",
        "leaflet-groupedlayercontrol/leaflet.groupedlayercontrol.min.js",
    ),
    (
        r"leaflet-groupedlayercontrol/[\d.]+/leaflet\.groupedlayercontrol\.min\.css$",
        "leaflet-groupedlayercontrol/leaflet.groupedlayercontrol.min.css",
    ),
    (r"Leaflet\.Sync/L\.Map\.Sync\.min\.js$", "leaflet.sync/L.Map.Sync.js"),
)
# Icon fonts and marker-icon styles that folium always links; siting's maps draw no icons.
UNUSED = (
    r"Leaflet\.awesome-markers/",
    r"fontawesome-free@",
    r"bootstrap/3\.0\.0/css/bootstrap-glyphicons\.css$",
    r"leaflet\.awesome\.rotate(\.min)?\.css$",
)

SCRIPT = re.compile(r'<script src="(https?://[^"]+)"></script>')
STYLE = re.compile(r'<link rel="stylesheet" href="(https?://[^"]+)"\s*/?>')
CSS_URL = re.compile(r"url\((['\"]?)(?!data:|#)([^)'\"]+)\1\)")


def _local(url: str) -> Path | None:
    """The vendored file for a CDN URL; None for an asset the maps do not use."""
    for pattern, path in ASSETS:
        if re.search(pattern, url):
            return STATIC / path
    if any(re.search(pattern, url) for pattern in UNUSED):
        return None
    raise LookupError(
        f"no vendored copy of {url}: add it to scripts/vendor_web_assets.py "
        "and siting/exports/offline.py"
    )


@cache
def _script(path: Path) -> str:
    # A literal "</script" inside the code would end the inline element early.
    return path.read_text(encoding="utf-8").replace("</script", "<\\/script")


@cache
def _style(path: Path) -> str:
    def data_uri(match: re.Match) -> str:
        target = (path.parent / match.group(2).split("?")[0].split("#")[0]).resolve()
        if not target.is_file():
            return "url()"  # an optional image the package does not ship (e.g. a @2x variant)
        mime = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        return f"url(data:{mime};base64,{base64.b64encode(target.read_bytes()).decode()})"

    return CSS_URL.sub(data_uri, path.read_text(encoding="utf-8"))


def inline_assets(page: str) -> str:
    """``page`` with every CDN script and stylesheet inlined (or dropped when unused).

    Raises
    ------
    LookupError
        If the page links a script or style that has no vendored copy.
    """

    def script(match: re.Match) -> str:
        path = _local(match.group(1))
        return "" if path is None else f"<script>{_script(path)}</script>"

    def style(match: re.Match) -> str:
        path = _local(match.group(1))
        return "" if path is None else f"<style>{_style(path)}</style>"

    return STYLE.sub(style, SCRIPT.sub(script, page))
