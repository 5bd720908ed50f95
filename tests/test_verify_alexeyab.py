"""`darkbench verify` and the AlexeyAB fork's README claims (darkbench/data/published_alexeyab.json).

With the fork's zoo ($DARKBENCH_ALEXEYAB/cfg) each computable claim is reproduced or a recorded known
discrepancy, computed in the fork's dialect, and equals what the fork itself prints or writes; without it
those claims are "not checked" with the reason, and verify does not fail because of that."""
import json
import shutil

import pytest

import alexeyab
from darkbench import published
from darkbench.cli import main
from require import require

DATA = json.loads(published.ALEXEYAB_DATA.read_text())
CLAIMS = {c["id"]: c for c in DATA["claims"]}
COMPUTABLE = [i for i, c in CLAIMS.items() if "quoted" not in c]


def _rows():
    return {r["claim"]: r for r in published.verify_alexeyab()}


def _zoo():
    zoo, why = published.alexeyab_zoo()
    if zoo is None:
        require(why)
    return zoo


def test_the_record():
    """92 claims: 34 to reproduce, 17 known discrepancies, 41 quoted; ids unique."""
    assert len(CLAIMS) == len(DATA["claims"]) == 92
    known = [i for i in COMPUTABLE if "known" in CLAIMS[i]]
    assert (len(COMPUTABLE) - len(known), len(known), len(CLAIMS) - len(COMPUTABLE)) == (34, 17, 41)


def test_not_installed_is_not_checked(monkeypatch, capsys):
    monkeypatch.delenv(published.ALEXEYAB_ENV, raising=False)
    rows = _rows()
    assert list(rows) == list(CLAIMS)
    for i, r in rows.items():
        if i in COMPUTABLE:
            assert r["verdict"] == "not checked" and r["computed"] is None, i
            assert published.ALEXEYAB_ENV in r["note"], i
        else:
            assert r["verdict"] == "quoted" and r["note"] == CLAIMS[i]["quoted"], i
    assert main(["verify"]) == 0  # "not checked" is not a failure
    out = capsys.readouterr().out
    assert "51 not checked" in out and "FAILED" not in out


def test_no_cfg_folder_is_not_checked(monkeypatch, tmp_path):
    monkeypatch.setenv(published.ALEXEYAB_ENV, str(tmp_path))
    rows = _rows()
    for i in COMPUTABLE:
        assert rows[i]["verdict"] == "not checked" and "no cfg/ folder" in rows[i]["note"], i


def test_a_cfg_darkbench_cannot_read_fails_in_one_line(monkeypatch, tmp_path, capsys):
    """A broken or missing zoo cfg is a FAILED verdict with the one-line reason, not a traceback."""
    zoo = tmp_path / "cfg"
    zoo.mkdir()
    (zoo / "yolov3-tiny.cfg").write_text("[net]\nwidth=416\nheight=416\nchannels=3\n[convolutional]\nfilters=x\n")
    monkeypatch.setenv(published.ALEXEYAB_ENV, str(tmp_path))
    rows = _rows()
    r = rows["ak-yolov3-tiny-bflops"]
    assert r["verdict"] == "FAILED" and r["note"].startswith("could not compute: ")
    assert "yolov3-tiny.cfg:6" in r["note"] and "\n" not in r["note"]
    r = rows["ak-yolov4-size"]
    assert r["verdict"] == "FAILED" and "yolov4.cfg is not in the fork's zoo" in r["note"]
    assert all(rows[i]["verdict"] == "FAILED" for i in COMPUTABLE)
    assert main(["verify", "--format", "json"]) == 1
    got = {r["claim"]: r["verdict"] for r in json.loads(capsys.readouterr().out)}
    assert got["ak-yolov3-tiny-bflops"] == "FAILED" and got["ak-yolov4-p6-map"] == "quoted"


def test_verdicts_with_the_zoo():
    """Each claim's verdict is the recorded one; a known discrepancy's computed value is the recorded one."""
    _zoo()
    rows = _rows()
    for i, c in CLAIMS.items():
        r = rows[i]
        want = "quoted" if "quoted" in c else "known discrepancy" if "known" in c else "reproduced"
        assert r["verdict"] == want, f"{i}: {r['verdict']} ({r['note']})"
        if "known" in c:
            assert r["computed"] == c["known"]["computed"], i


def test_verify_command_with_the_zoo(capsys):
    _zoo()
    assert main(["verify", "--format", "json"]) == 0
    rows = {r["claim"]: r for r in json.loads(capsys.readouterr().out)}
    assert {i: rows[i]["verdict"] for i in CLAIMS} == {i: r["verdict"] for i, r in _rows().items()}
    assert rows["ak-yolov4-608-bflops"]["computed_text"].endswith("BFLOPS")
    assert rows["ak-yolov4-size"]["computed_text"] == "245.779 MiB"


@pytest.mark.alexeyab
def test_computed_is_what_the_fork_prints_and_writes(alexeyab_fork):
    """verify's figure for each computable claim is the fork's own: Total BFLOPS as it prints it (half of it for
    FMA), the size of the file `darknet partial` writes (its first `cutoff` layers for a .conv.N file)."""
    rows = _rows()
    for i in COMPUTABLE:
        c = CLAIMS[i]
        cfg = alexeyab_fork.cfg_dir / c["cfg"]
        size = c.get("width"), c.get("height")
        if c["quantity"] in ("bflops", "fma"):
            want = alexeyab.fork_ops(cfg, *size).total / (2 if c["quantity"] == "fma" else 1)
        else:
            want = alexeyab.fork_weights_bytes(cfg, *size, cutoff=c.get("cutoff", 1000000)) / 2 ** 20
        assert rows[i]["computed"] == want, i
