"""A derived conflict shows its reasoning as a chain: the claims it starts
from, the rule, the inferred statement and the denial, one step a line."""

from __future__ import annotations

import json

from cfkb.store.core import KnowledgeBase
from conftest import invoke

HOQUQ_CHAIN = [
    ("claim", "Al-Rabaa TV (2023-08-10) says Harakat Hoquq is part of Tahalof al-Safwa al-Watani"),
    ("claim", "Al-Rabaa TV (2023-08-10) says Tahalof al-Safwa al-Watani contests December 2023 provincial elections"),
    ("rule", "membership of a contesting list implies participation"),
    ("inferred", "so Harakat Hoquq participates in December 2023 provincial elections"),
    ("denial", "but Hossein Moanes (al-Sharqiya TV, 2023-08-25) says Harakat Hoquq does not participate in"
               " December 2023 provincial elections"),
]


def _hoquq(runner, store):
    data = json.loads(invoke(runner, store, "conflicts", "--format", "json").stdout)
    return next(c for c in data if c["claims"][1]["subject"]["label"] == "Harakat Hoquq"), data


def test_the_chain_in_json_and_each_step_a_line_in_the_table(runner, store_path):
    hoquq, data = _hoquq(runner, store_path)
    assert [(s["step"], s["text"]) for s in hoquq["chain"]] == HOQUQ_CHAIN
    kh = next(c for c in data if c["claims"][1]["subject"]["label"] == "Kataib Hezbollah")
    steps = [s["step"] for s in kh["chain"]]
    assert steps == ["claim", "claim", "claim", "background", "rule", "inferred", "denial"]
    assert kh["chain"][5]["text"] == "so Kataib Hezbollah participates in December 2023 provincial elections"
    table = invoke(runner, store_path, "conflict", "show", hoquq["id"]).stdout
    lines = [" ".join(line.split()) for line in table.splitlines()]
    for step, text in HOQUQ_CHAIN:  # each step begins a line (a long one wraps)
        assert any(line.startswith(f"{step} {text[:40]}") for line in lines), (step, text)


def test_the_chain_in_the_report_and_on_the_web(runner, store_path):
    from starlette.testclient import TestClient

    from cfkb.server.app import create_app
    from html_tree import parse

    hoquq, _ = _hoquq(runner, store_path)
    md = invoke(runner, store_path, "report").stdout
    for step, text in HOQUQ_CHAIN:
        assert f"- {step}: {text}\n" in md
    with KnowledgeBase.open(store_path) as kb, TestClient(create_app(kb, workers=1,
                                                                     allowed_hosts=["testserver"])) as c:
        doc = parse(c.get(f"/conflicts/{hoquq['id']}").text)
    items = doc.find("ol", class_="chain").find_all("li")
    assert [(li.find("span", class_="step").text, li.text.split(" ", 1)[1]) for li in items] == HOQUQ_CHAIN
