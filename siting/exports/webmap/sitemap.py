"""A light map of proposed sites, for runs whose rasters stay on a cluster (a national run, a
tiled run): one layer of circle markers per profile and a title box, no raster overlay."""

from __future__ import annotations

import html
from collections.abc import Mapping

import folium
import geopandas as gpd

from siting.config.scenario import Profile
from siting.exports.report.blocks import num
from siting.exports.webmap import caveat
from siting.exports.webmap.elements import page_of

TITLE_STYLE = (
    "position:fixed;top:10px;left:60px;z-index:1000;background:white;padding:6px 10px;"
    "border-radius:4px;box-shadow:0 1px 4px #0004;font:13px sans-serif;max-width:480px"
)


def add_sites(
    fmap: folium.Map, sites: gpd.GeoDataFrame, profiles: Mapping[str, Profile], where: str = ""
) -> None:
    """One layer per profile: its sites (EPSG:4326, with ``lon``, ``lat``, ``rank``, ``score``,
    ``near``) as circle markers in the profile's colour, the best one larger. With ``where``
    a column (``basin``), each popup says which one the site belongs to."""
    for name, profile in profiles.items():
        group = folium.FeatureGroup(name=f"{profile.title} sites")
        for row in sites[sites["profile"] == name].itertuples():
            of = f" of {where} <code>{html.escape(getattr(row, where))}</code>" if where else ""
            popup = (
                f"<b>{html.escape(profile.title)}</b> #{int(row.rank)}{of}<br>score "
                f"{num(row.score)}<br>{html.escape(str(getattr(row, 'near', '') or ''))}"
                f"<br>{row.lat:.4f} N, {row.lon:.4f} E"
            )
            tip = f"{profile.title} #{int(row.rank)}" + (
                f" ({getattr(row, where)})" if where else ""
            )
            folium.CircleMarker(
                [row.lat, row.lon],
                radius=6 if row.rank == 1 else 4,
                color=profile.color,
                fill=True,
                fill_opacity=0.8,
                tooltip=html.escape(tip),
                popup=folium.Popup(popup, max_width=300),
            ).add_to(group)
        group.add_to(fmap)


def add_title(fmap: folium.Map, scenario: object, lines: list[str]) -> None:
    """The title box: the scenario's title, ``lines`` (HTML, already escaped) and the caveat
    on schematic layers."""
    title = html.escape(str(getattr(scenario, "title", "")))
    body = "<br>".join(lines)
    page_of(fmap).html.add_child(
        folium.Element(
            f"<div id='siting-title' style='{TITLE_STYLE}'><b>{title}</b><br>{body}"
            f"{caveat.box(scenario)}</div>"
        )
    )
