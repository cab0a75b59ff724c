"""Decisions as reversible records: the ranks a resolution sets belong to it.

On the seed's two Hoquq conflicts, which share Al-Rabaa TV's claim that
Hoquq is part of Safwa: resolving, reopening and resolving the other way
leave no rank behind that no standing decision gives.
"""

from __future__ import annotations

import json

import pytest

from conftest import invoke


def _conflicts(runner, store):
    result = invoke(runner, store, "conflicts", "--all", "--format", "json")
    assert result.exit_code == 0, result.output
    return {c["claims"][1]["subject"]["label"]: c for c in json.loads(result.stdout)}


def _ranks(runner, store):
    """Every claim of the two conflicts, by speaker or outlet, with its rank."""
    out = {}
    for c in _conflicts(runner, store).values():
        for v in c["claims"][:2]:
            out[(v["speaker"] or v["outlet"])["label"]] = v["rank"]
    return out


@pytest.fixture
def hoquq(runner, store_path):
    found = _conflicts(runner, store_path)
    moanes_c, kh_c = found["Harakat Hoquq"], found["Kataib Hezbollah"]

    def side(c, role):
        return next(v["id"] for v in c["claims"] if v["role"] == role)

    return {"moanes_conflict": moanes_c["id"], "kh_conflict": kh_c["id"],
            "rabaa": side(moanes_c, "asserts"), "moanes": side(moanes_c, "denies"), "khazali": side(kh_c, "denies")}


def flag(runner, store, cid, status, *args):
    result = invoke(runner, store, "flag", cid, "--status", status, *args)
    assert result.exit_code == 0, result.output
    return result


def test_reopening_undoes_exactly_the_resolutions_ranks(runner, store_path, hoquq):
    h = hoquq
    flag(runner, store_path, h["moanes_conflict"], "resolved", "--prefer", h["moanes"], "--reason", "he leads Hoquq")
    assert _ranks(runner, store_path) == {"Al-Rabaa TV": "deprecated", "Hossein Moanes": "preferred",
                                          "Qais al-Khazali": "normal"}
    flag(runner, store_path, h["kh_conflict"], "resolved", "--prefer", h["khazali"], "--reason", "KH's ally")
    assert _ranks(runner, store_path) == {"Al-Rabaa TV": "deprecated", "Hossein Moanes": "preferred",
                                          "Qais al-Khazali": "preferred"}

    # reopen the first: Moanes goes back to normal; Al-Rabaa stays deprecated by the second
    flag(runner, store_path, h["moanes_conflict"], "open")
    assert _ranks(runner, store_path) == {"Al-Rabaa TV": "deprecated", "Hossein Moanes": "normal",
                                          "Qais al-Khazali": "preferred"}
    show = invoke(runner, store_path, "claim", "show", h["rabaa"][:8]).stdout
    assert f"deprecated by conflict {h['kh_conflict']}" in show and "KH's ally" in show
    assert f"by conflict {h['moanes_conflict']}" not in show
    # the reopened conflict says why one of its sides is still deprecated
    shown = invoke(runner, store_path, "conflict", "show", h["moanes_conflict"]).stdout
    assert f"{h['rabaa'][:8]} (Al-Rabaa TV) deprecated by conflict {h['kh_conflict']}" in shown

    # dismiss the second: nothing is ranked any more
    flag(runner, store_path, h["kh_conflict"], "dismissed", "--reason", "chain too weak")
    assert set(_ranks(runner, store_path).values()) == {"normal"}

    # resolve the first the other way
    flag(runner, store_path, h["moanes_conflict"], "resolved", "--prefer", h["rabaa"],
         "--reason", "IHEC approved the list")
    assert _ranks(runner, store_path) == {"Al-Rabaa TV": "preferred", "Hossein Moanes": "deprecated",
                                          "Qais al-Khazali": "normal"}
    show = invoke(runner, store_path, "claim", "show", h["moanes"][:8]).stdout
    assert f"deprecated by conflict {h['moanes_conflict']}" in show and "IHEC approved the list" in show


def test_a_claim_two_resolutions_deprecate_stays_deprecated_until_both_are_undone(runner, store_path, hoquq):
    h = hoquq
    flag(runner, store_path, h["moanes_conflict"], "resolved", "--prefer", h["moanes"], "--reason", "one")
    flag(runner, store_path, h["kh_conflict"], "resolved", "--prefer", h["khazali"], "--reason", "two")
    show = invoke(runner, store_path, "claim", "show", h["rabaa"]).stdout
    assert f"deprecated by conflict {h['moanes_conflict']}" in show
    assert f"deprecated by conflict {h['kh_conflict']}" in show
    flag(runner, store_path, h["kh_conflict"], "disputed")
    assert _ranks(runner, store_path)["Al-Rabaa TV"] == "deprecated"
    flag(runner, store_path, h["moanes_conflict"], "disputed")
    assert _ranks(runner, store_path)["Al-Rabaa TV"] == "normal"


def test_a_hand_rank_does_not_hide_a_resolution(runner, store_path, hoquq):
    h = hoquq
    flag(runner, store_path, h["moanes_conflict"], "resolved", "--prefer", h["moanes"], "--reason", "he leads Hoquq")
    result = invoke(runner, store_path, "rank", h["rabaa"], "preferred", "--reason", "I trust Al-Rabaa")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().endswith(": deprecated")
    assert f"conflict {h['moanes_conflict']}" in result.stderr and "reopen" in result.stderr
    flag(runner, store_path, h["moanes_conflict"], "open")
    # the hand rank stands once the resolution is taken back
    assert _ranks(runner, store_path)["Al-Rabaa TV"] == "preferred"
    show = invoke(runner, store_path, "claim", "show", h["rabaa"]).stdout
    assert "preferred by hand" in show and "I trust Al-Rabaa" in show


def test_history_in_claim_show_conflict_show_and_report(runner, store_path, hoquq):
    h = hoquq
    flag(runner, store_path, h["moanes_conflict"], "resolved", "--prefer", h["moanes"], "--reason", "he leads Hoquq")
    flag(runner, store_path, h["moanes_conflict"], "open")
    assert invoke(runner, store_path, "claim", "grade", h["rabaa"], "4").exit_code == 0
    show = invoke(runner, store_path, "claim", "show", h["rabaa"]).stdout
    lines = show.splitlines()
    history = lines[lines.index("  history") + 1:]
    assert len(history) == 1 and history[0].endswith("tester: credibility 4")  # no empty history line
    shown = invoke(runner, store_path, "conflict", "show", h["moanes_conflict"]).stdout
    assert (f"tester: resolved, prefers {h['moanes']}, deprecates {h['rabaa']} (he leads Hoquq)" in shown)
    assert "tester: open" in shown
    report = invoke(runner, store_path, "report").stdout
    assert f"resolved, prefers {h['moanes']}, deprecates {h['rabaa']} (he leads Hoquq)" in report


def test_a_preferred_side_goes_with_a_resolution(runner, store_path, hoquq):
    h = hoquq
    result = invoke(runner, store_path, "flag", h["moanes_conflict"], "--status", "disputed", "--prefer", h["moanes"])
    assert result.exit_code == 2 and "--prefer goes with --status resolved" in result.stderr
    result = invoke(runner, store_path, "flag", h["moanes_conflict"], "--status", "resolved", "--reason", "  ")
    assert result.exit_code == 2 and "--reason" in result.stderr
    assert set(_ranks(runner, store_path).values()) == {"normal"}


# -- the same from the web form of a writable server ---------------------------------

def _web_ranks(c, conflict_id):
    from html_tree import parse

    doc = parse(c.get(f"/conflicts/{conflict_id}").text)
    out = {}
    for article in doc.find("section", id=f"c-{conflict_id}").find_all("article"):
        role = next(k.removeprefix("role-") for k in article.get("class").split() if k.startswith("role-"))
        rank = article.find_all("span", class_="rank")
        out[role] = rank[0].text.strip() if rank else "normal"
    return out


def _form(c, conflict_id):
    from html_tree import parse

    form = parse(c.get(f"/conflicts/{conflict_id}").text).find("form", class_="flag")
    status = next(o.get("value") for o in form.find_all("option") if "selected" in o.attrs)
    prefer = next(i.get("value") for i in form.find_all("input", name="prefer") if "checked" in i.attrs)
    reason = form.find("input", name="reason").get("value")
    return status, prefer, reason


def test_the_web_form_resolves_reopens_and_resolves_the_other_way(store_path, hoquq):
    from starlette.testclient import TestClient

    from cfkb.server.app import create_app
    from cfkb.store.core import KnowledgeBase
    from html_tree import parse

    h = hoquq
    kb = KnowledgeBase.open(store_path, write=True)
    try:
        app = create_app(kb, read_only=False, workers=1, analyst="tester", allowed_hosts=["testserver"])
        with TestClient(app) as c:
            moanes_c, kh_c = h["moanes_conflict"], h["kh_conflict"]
            assert _form(c, moanes_c) == ("open", "", "")  # opens on the current state

            # no reason: the page says so in words, and keeps what was typed
            r = c.post(f"/conflicts/{moanes_c}/flag", data={"status": "resolved", "prefer": h["moanes"],
                                                            "reason": "", "analyst": "Rana"})
            assert r.status_code == 400
            form = parse(r.text).find("form", class_="flag")
            alert = form.find("p", class_="error").text
            assert "needs a reason" in alert and "--" not in alert
            assert next(o.get("value") for o in form.find_all("option") if "selected" in o.attrs) == "resolved"
            assert next(i.get("value") for i in form.find_all("input", name="prefer")
                        if "checked" in i.attrs) == h["moanes"]
            assert form.find("input", name="analyst").get("value") == "Rana"
            assert _web_ranks(c, moanes_c) == {"asserts": "normal", "denies": "normal", "supports": "normal"}

            def post(cid, **fields):
                r = c.post(f"/conflicts/{cid}/flag", data=fields, follow_redirects=False)
                assert r.status_code == 303, r.text

            post(moanes_c, status="resolved", prefer=h["moanes"], reason="he leads Hoquq", analyst="Rana")
            assert _form(c, moanes_c) == ("resolved", h["moanes"], "he leads Hoquq")
            assert _web_ranks(c, moanes_c) == {"asserts": "deprecated", "denies": "preferred", "supports": "normal"}
            post(kh_c, status="resolved", prefer=h["khazali"], reason="KH's ally", analyst="Rana")

            # reopened, with the radio button still on Moanes: his rank goes, Al-Rabaa's stays (the KH conflict)
            post(moanes_c, status="open", prefer=h["moanes"], reason="", analyst="Rana")
            assert _form(c, moanes_c) == ("open", "", "")
            assert _web_ranks(c, moanes_c) == {"asserts": "deprecated", "denies": "normal", "supports": "normal"}
            claim_page = c.get(f"/claims/{h['rabaa']}").text
            ranks = parse(c.get(f"/conflicts/{moanes_c}").text).find("section", id="ranks").text
            assert ranks == f"Ranks now Al-Rabaa TV {h['rabaa'][:8]} deprecated by the resolution of conflict {kh_c}"
            assert f"conflict <a href=\"/conflicts/{kh_c}\">" in claim_page

            post(kh_c, status="dismissed", reason="chain too weak", analyst="Rana")
            post(moanes_c, status="resolved", prefer=h["rabaa"], reason="IHEC approved the list", analyst="Rana")
            assert _web_ranks(c, moanes_c) == {"asserts": "preferred", "denies": "deprecated", "supports": "normal"}
            assert _web_ranks(c, kh_c) == {"asserts": "preferred", "denies": "normal", "supports": "normal"}

            # the history, on the conflict page: who, when, status, preferred claim, reason
            rows = parse(c.get(f"/conflicts/{moanes_c}").text).find("table", class_="history").find_all("tr")[1:]
            cells = [[td.text.strip() for td in tr.find_all("td")] for tr in rows]
            assert [row[1:3] for row in cells] == [["Rana", "resolved"], ["Rana", "open"], ["Rana", "resolved"]]
            assert cells[0][3].startswith("Hossein Moanes") and cells[0][5] == "he leads Hoquq"
            assert cells[2][3].startswith("Al-Rabaa TV") and cells[2][4].startswith("Hossein Moanes")
            assert cells[2][5] == "IHEC approved the list"
    finally:
        kb.close()
