"""The exporters' shared theme: units from the scenario's layer kinds, classes ranked by the
scenario (or the data), palettes by rank. Scenarios only: no run."""

from __future__ import annotations

import math

import pytest
import tomllib

from siting.config.scenario import DEFAULT_SCENARIO, from_dict, load
from siting.exports import theme


@pytest.fixture(scope="module")
def kuzbass():
    return load()


def variant(change) -> object:
    """The Kuzbass scenario with ``change(data)`` applied to its parsed TOML."""
    data = tomllib.loads(DEFAULT_SCENARIO.read_text(encoding="utf-8"))
    change(data)
    return from_dict(data, base_dir=DEFAULT_SCENARIO.parent, source=DEFAULT_SCENARIO)


def test_units_come_from_the_layer_kind(kuzbass):
    assert kuzbass.layers["mines"].kind == "mines"
    assert theme.field_unit(kuzbass, "mines", "output") == "Mt/yr"
    assert theme.weight_unit(kuzbass, "mines", "output") == "Mt/yr"
    assert theme.transport_unit(kuzbass, "mines", "output") == "Mt·km/yr"
    # Settlements define no unit for population: the field's name stands for it.
    assert theme.field_unit(kuzbass, "settlements", "population") is None
    assert theme.weight_unit(kuzbass, "settlements", "population") == "population"
    assert theme.transport_unit(kuzbass, "settlements", "population") == "population·km"
    # No weight field: every feature counts 1.
    assert theme.weight_unit(kuzbass, "mines", None) == "weight"
    assert theme.transport_unit(kuzbass, "mines", None) == "weight·km"


def test_a_layer_of_another_kind_has_no_unit_and_a_generic_one_takes_its_name():
    def rename(data: dict) -> None:
        data["layers"]["pits"] = dict(data["layers"]["mines"], kind="generic")
        data["layers"]["mines"]["kind"] = "generic"  # a generic layer named "mines" is mines

    s = variant(rename)
    assert theme.role(s, "mines") == "mines" and theme.role(s, "pits") == "pits"
    assert theme.weight_unit(s, "mines", "output") == "Mt/yr"
    assert theme.weight_unit(s, "pits", "output") == "output"
    assert theme.transport_unit(s, "pits", "output") == "output·km"
    assert theme.role(s, "not a layer") == "not a layer"


def test_road_classes_rank_by_the_network_speeds(kuzbass):
    values = ["regional", "federal", None, math.nan, "track", "regional"]
    # Kuzbass: federal 80 km/h, regional 60; a class without a speed comes last.
    assert theme.classes(kuzbass, "roads", values) == ["federal", "regional", "track"]

    def reverse(data: dict) -> None:
        data["network"]["speeds"] = {"federal": 50, "regional": 90}

    assert theme.classes(variant(reverse), "roads", values) == ["regional", "federal", "track"]
    # Rail is not the network: its classes keep the order they first appear in.
    assert theme.classes(kuzbass, "rail", ["branch", "main", "branch"]) == ["branch", "main"]

    def drop_network(data: dict) -> None:
        del data["network"]
        for profile in data["profiles"].values():  # travel_time criteria need a network
            for c in profile["criteria"]:
                if c["kind"] == "travel_time":
                    c["kind"] = "distance"
                    c.pop("minutes", None)

    assert theme.classes(variant(drop_network), "roads", values) == [
        "regional",
        "federal",
        "track",
    ]


def test_palettes_style_classes_by_rank():
    roads = theme.LINES["roads"]
    assert roads.style(0) == theme.LineStyle("#d94801", 3.0, 0.7)
    assert roads.style(1) == theme.LineStyle("#fd8d3c", 2.0, 0.45)
    assert roads.style(2) == roads.other == roads.style(-1)
    generic = variant(lambda data: None)
    assert theme.class_label(generic, "roads", "federal", roads.noun) == "Federal road"
    assert theme.class_label(generic, "rail", "main", theme.LINES["rail"].noun) == "Main line"
    assert [theme.ANCHORS.style(k).shape for k in range(5)] == [
        "star",
        "diamond",
        "triangle",
        "triangle",
        "circle",
    ]


def test_the_scenario_gives_units_and_class_labels_and_order(kuzbass):
    """Region specifics come from the scenario: a layer's ``units`` and ``classes``."""
    # The embedded scenario names its anchor kinds, UgleNaukoGrad first.
    assert theme.class_label(kuzbass, "anchors", "ugle_naukograd") == "UgleNaukoGrad"
    values = ["university", "technopark", "ugle_naukograd", "research_institute"]
    assert theme.classes(kuzbass, "anchors", values)[0] == "ugle_naukograd"

    def relabel(data):
        data["layers"]["mines"]["units"] = {"output": "kt/month"}
        data["layers"]["roads"]["classes"] = {"regional": "Oblast road"}
        data["layers"]["anchors"].pop("classes", None)

    other = variant(relabel)
    assert theme.field_unit(other, "mines", "output") == "kt/month"
    assert theme.transport_unit(other, "mines", "output") == "kt·km/month"
    # Listed classes come first, in the scenario's order; the rest by the network's speeds.
    assert theme.classes(other, "roads", ["federal", "regional", "track"])[0] == "regional"
    assert theme.class_label(other, "roads", "regional", "road") == "Oblast road"
    assert theme.class_label(other, "anchors", "ugle_naukograd") == "Ugle naukograd"
