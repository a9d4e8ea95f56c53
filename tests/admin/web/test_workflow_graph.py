"""The SVG macro that draws a workflow's graph (editor and instance page): a box per step with
its key, job and state class, arrows whose condition shows by colour, dash and text, a title per
box, a viewBox of the layout's size, and nothing loaded from elsewhere."""

from __future__ import annotations

import re
from pathlib import Path
from xml.etree import ElementTree

from flask import render_template_string

from shardcron.admin.workflows.layout import layout_graph
from shardcron.core.clock import FakeClock
from tests.support.console import build_console

SVG = "{http://www.w3.org/2000/svg}"
MACRO = '{% from "_workflow_graph.html" import workflow_graph %}{{ workflow_graph(layout, labels=labels, states=states, links=links, id="g1") }}'


def render(tmp_path: Path, sqlite_url: str, language: str = "en", **kw) -> str:
    console = build_console(tmp_path, sqlite_url, FakeClock())
    layout = layout_graph(["extract", "load", "compensate"], [("extract", "load", "SUCCESS"), ("load", "compensate", "FAILURE")])
    try:
        with console.app.test_request_context("/", headers={"Accept-Language": language}):
            return render_template_string(MACRO, layout=layout, labels=kw.get("labels", {}), states=kw.get("states", {}), links=kw.get("links", {}))
    finally:
        console.db.dispose()


def parse(svg: str) -> ElementTree.Element:
    # the macro's output is plain SVG: namespace it to parse it as XML
    return ElementTree.fromstring(svg.replace("<svg ", '<svg xmlns="http://www.w3.org/2000/svg" ', 1))


def test_boxes_arrows_labels_and_titles(tmp_path: Path, sqlite_url: str) -> None:
    html = render(tmp_path, sqlite_url, labels={"extract": "nightly-extract <x>"}, states={"load": "FAILED", "extract": "SUCCEEDED"},
                  links={"load": "/runs?step=7"})
    root = parse(html)
    assert root.get("viewBox", "").startswith("0 0 ")
    assert root.get("data-steps") == "3" and root.get("data-edges") == "2"
    nodes = root.findall(f".//{SVG}g[@data-key]")
    assert [n.get("data-key") for n in nodes] == ["extract", "load", "compensate"]
    classes = {n.get("data-key"): n.get("class") for n in nodes}
    assert classes == {"extract": "wf-node wf-state-succeeded", "load": "wf-node wf-state-failed", "compensate": "wf-node"}
    titles = [n.find(f"{SVG}title").text for n in nodes]
    assert titles[0] == "extract — nightly-extract <x> (SUCCEEDED)"  # escaped in the text, read back as text
    assert "&lt;x&gt;" in html and "<x>" not in html
    assert all(n.find(f"{SVG}rect") is not None for n in nodes)
    link = root.find(f".//{SVG}a")
    assert link is not None and link.get("href") == "/runs?step=7" and link.find(f"{SVG}g").get("data-key") == "load"
    edges = root.findall(f".//{SVG}g[@data-on]")
    assert [(e.get("data-from"), e.get("data-to"), e.get("class")) for e in edges] == [
        ("extract", "load", "wf-edge wf-edge-success"), ("load", "compensate", "wf-edge wf-edge-failure")]
    success_path, failure_path = (e.find(f"{SVG}path") for e in edges)
    assert success_path.get("stroke") != failure_path.get("stroke")
    assert success_path.get("stroke-dasharray") is None and failure_path.get("stroke-dasharray")
    assert failure_path.get("marker-end") == "url(#g1-arrow-failure)"
    assert root.find(f".//{SVG}marker[@id='g1-arrow-failure']") is not None
    assert [e.find(f"{SVG}text").text for e in edges] == ["on success", "on failure"]
    assert not re.search(r"https?://(?!www\.w3\.org)", html)  # no CDN, no font from elsewhere


def test_labels_in_chinese(tmp_path: Path, sqlite_url: str) -> None:
    root = parse(render(tmp_path, sqlite_url, language="zh"))
    texts = [e.find(f"{SVG}text").text for e in root.findall(f".//{SVG}g[@data-on]")]
    assert texts == ["成功时", "失败时"]
    assert "工作流" in root.find(f"{SVG}title").text
