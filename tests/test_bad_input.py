"""Broken cfgs end with a non-zero exit and one clear line naming file, line or layer: no traceback."""
import subprocess
import sys
from pathlib import Path

import pytest

from darkbench.cli import main

NET = "[net]\nwidth=32\nheight=32\nchannels=3\n"
CONV = "[convolutional]\nfilters=8\nsize=3\npad=1\nactivation=leaky\n"

# (name, text or bytes, words the message must contain)
CASES = [
    ("no_net", CONV, ["bad.cfg:1", "must be [net]"]),
    ("net_twice", NET + CONV + NET, ["bad.cfg:10", "may only be the first"]),
    ("unknown_section", NET + "[convolution]\nfilters=3\n", ["bad.cfg:5", "unknown section [convolution]"]),
    ("unknown_activation", NET + CONV.replace("leaky", "sqrt"), ["bad.cfg:9", "unknown activation 'sqrt'"]),
    ("non_numeric", NET + CONV.replace("filters=8", "filters=eight"), ["bad.cfg:6", "not an integer"]),
    ("float_for_int", NET + CONV.replace("size=3", "size=3.5"), ["bad.cfg:7", "not an integer"]),
    ("zero_filters", NET + CONV.replace("filters=8", "filters=0"), ["bad.cfg:6", "filters=0 must be > 0"]),
    ("negative_stride", NET + "[maxpool]\nsize=2\nstride=-2\n", ["bad.cfg:7", "stride=-2"]),
    ("zero_width", NET.replace("width=32", "width=0"), ["bad.cfg", "no input size"]),
    ("nan_float", NET + "[dropout]\nprobability=nan\n", ["bad.cfg:6", "not a finite number"]),
    ("kernel_too_big", NET.replace("32", "2") + "[convolutional]\nfilters=4\nsize=5\n", ["layer 0", "larger than"]),
    ("route_future", NET + CONV + "[route]\nlayers=3\n", ["bad.cfg:11", "in the future"]),
    ("route_out_of_range", NET + CONV + "[route]\nlayers=-5\n", ["bad.cfg:11", "out of range"]),
    ("shortcut_future", NET + CONV + "[shortcut]\nfrom=1\n", ["bad.cfg:11", "in the future"]),
    ("groups_not_dividing", NET + CONV.replace("filters=8", "filters=8\ngroups=2"), ["layer 0", "groups=2 does not divide"]),
    ("yolo_channels", NET + CONV + "[yolo]\nmask=0,1,2\nanchors=1,2,3,4,5,6\nclasses=80\nnum=3\n",
     ["layer 1", "needs 255"]),
    ("conv_after_softmax", NET + "[connected]\noutput=10\n[softmax]\n" + CONV, ["layer 2", "needs an image input"]),
    ("conv_after_unequal_route", NET + CONV + "[maxpool]\nsize=2\nstride=2\n[route]\nlayers=-1,-2\n" + CONV,
     ["layer 3", "needs an image input", "unequal sizes: layer 0 is 32x32, layer 1 is 16x16"]),
    ("empty_value", NET + "[route]\nlayers=\n", ["bad.cfg:6", "has no value"]),
    ("empty_list_item", NET + CONV + "[route]\nlayers=-1,\n", ["bad.cfg:11", "is not an integer"]),
    ("only_net", NET, ["no layers"]),
    ("empty", "", ["bad.cfg", "empty cfg"]),
    ("comments_only", "# nothing\n;\n", ["empty cfg"]),
    ("garbage", bytes(range(256)) * 4, ["bad.cfg", "not a text cfg"]),
    ("latin1", b"[net]\nwidth=\xe9\n", ["bad.cfg", "invalid UTF-8"]),
    ("missing_required_from", NET + CONV + "[shortcut]\nactivation=linear\n", ["missing required option 'from'"]),
]


def _write(tmp_path, content):
    p = tmp_path / "bad.cfg"
    p.write_bytes(content if isinstance(content, bytes) else content.encode())
    return p


@pytest.mark.parametrize("command", ["summary", "ops"])
@pytest.mark.parametrize("name,content,words", CASES, ids=[c[0] for c in CASES])
def test_bad_cfg_one_clear_line(tmp_path, capsys, monkeypatch, command, name, content, words):
    monkeypatch.chdir(tmp_path)
    _write(tmp_path, content)
    assert main([command, "bad.cfg"]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    errors = [l for l in err if not l.startswith("warning:")]
    assert len(errors) == 1, err
    for w in words:
        assert w in errors[0]


@pytest.mark.parametrize("command", ["summary", "ops"])
def test_missing_path_and_directory(tmp_path, capsys, command):
    assert main([command, str(tmp_path / "nope.cfg")]) != 0
    assert "nope.cfg: no such file" in capsys.readouterr().err
    assert main([command, str(tmp_path)]) != 0
    assert "is a directory" in capsys.readouterr().err


def test_ops_json_reports_failures_and_keeps_going(tmp_path, capsys):
    import json
    bad = _write(tmp_path, NET + "[bogus]\n")
    good = Path(__file__).resolve().parent.parent / "cfg" / "tiny.cfg"
    assert main(["ops", "--json", str(good), str(bad)]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out[0]["ops"] == 983048192 and "error" in out[1] and "unknown section [bogus]" in out[1]["error"]


def test_real_process_prints_no_traceback(tmp_path):
    _write(tmp_path, NET + CONV.replace("leaky", "sqrt"))
    r = subprocess.run([sys.executable, "-m", "darkbench", "summary", str(tmp_path / "bad.cfg")],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.strip().count("\n") == 0 and "unknown activation" in r.stderr


def test_help_everywhere(capsys):
    from darkbench.cli import COMMANDS
    for argv in [["--help"]] + [[c, "--help"] for c in COMMANDS]:
        with pytest.raises(SystemExit) as e:
            main(argv)
        assert e.value.code == 0, argv
        assert "usage: darkbench" in capsys.readouterr().out
