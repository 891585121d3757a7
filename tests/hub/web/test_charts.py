"""Server-side SVG charts: well-formed, accessible (title/desc), labels as text, hostile names escaped."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from hub.web.charts import HEAT_COLOURS, Series, bar_chart, heat_level, heat_map

SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = '<script>alert(1)</script>"onload="x'


def parse(markup: str) -> ET.Element:
    return ET.fromstring(str(markup))  # raises on anything that is not well-formed XML


def texts(root: ET.Element, css: str) -> list[str]:
    return ["".join(t.itertext()) for t in root.iter(f"{SVG}text") if t.get("class", "").split()[0:1] == [css]]


def test_bar_chart_labels_values_and_accessible_name() -> None:
    chart = bar_chart(
        "tta-village",
        "Waktu tanggap per desa",
        "median dan p90",
        ["Sukamaju", "Mekarsari"],
        [Series("p50", [60.0, 210.0]), Series("p90", [84.0, None])],
        lambda v: f"{v:.0f} s",
    )
    root = parse(chart)
    assert root.get("role") == "img" and root.get("aria-labelledby") == "tta-village-title tta-village-desc"
    assert root.find(f"{SVG}title").text == "Waktu tanggap per desa"
    assert root.find(f"{SVG}desc").text == "median dan p90"
    assert texts(root, "label") == ["Sukamaju", "Mekarsari"]
    assert texts(root, "value") == ["60 s", "84 s", "210 s", "-"]
    assert texts(root, "legend") == ["p50", "p90"]
    widths = [float(r.get("width")) for r in root.iter(f"{SVG}rect") if r.get("class") == "bar"]
    assert widths[2] == max(widths) and widths[0] == pytest.approx(widths[2] * 60 / 210, abs=0.1)  # one scale


def test_hostile_labels_are_escaped_and_cut() -> None:
    long_name = "Pos " + "x" * 300
    chart = bar_chart(
        "incidents-post", HOSTILE, HOSTILE, [HOSTILE, long_name, "\u202eevil"], [Series(HOSTILE, [1, 2, 3])]
    )
    assert "<script>" not in chart and 'onload="x' not in chart
    root = parse(chart)  # still one well-formed SVG
    labels = texts(root, "label")
    assert labels[0].startswith("<script>alert(")  # shown as text, cut
    assert len(labels[1]) < 40 and "\u202e" not in labels[2]
    assert root.find(f"{SVG}title").text.startswith("<script>")
    with pytest.raises(ValueError):
        bar_chart('x" onload="y', "t", "d", [], [])


def test_empty_bar_chart_says_so() -> None:
    root = parse(bar_chart("tta-officer", "t", "d", [], [Series("p50", [])], empty_text="Tidak ada kejadian"))
    assert texts(root, "empty") == ["Tidak ada kejadian"]


def test_heat_map_cells_counts_and_levels() -> None:
    matrix = [[0] * 24 for _ in range(7)]
    matrix[0][22] = 4
    matrix[6][23] = 1
    days = ["Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", HOSTILE]
    chart = heat_map("jam-rawan", "Jam rawan", "per jam", matrix, days, lambda d, h, c: f"{d} {h:02d}:00 {c}")
    assert "<script>" not in chart
    root = parse(chart)
    rects = [r for r in root.iter(f"{SVG}rect") if r.get("class", "").startswith("cell")]
    assert len(rects) == 7 * 24
    hot = {(r.get("data-day"), r.get("data-hour")): r for r in rects if r.get("data-count") != "0"}
    assert set(hot) == {("0", "22"), ("6", "23")}
    assert hot[("0", "22")].get("fill") == HEAT_COLOURS[5] and hot[("6", "23")].get("fill") == HEAT_COLOURS[2]
    assert "".join(hot[("0", "22")].find(f"{SVG}title").itertext()) == "Senin 22:00 4"
    assert texts(root, "hour") == [f"{h:02d}" for h in range(24)]
    assert texts(root, "label")[0] == "Senin" and texts(root, "count") == ["4", "1"]


def test_heat_levels() -> None:
    assert [heat_level(c, 10) for c in (0, 1, 2, 3, 5, 10)] == [0, 1, 1, 2, 3, 5]
    assert heat_level(3, 0) == 0
