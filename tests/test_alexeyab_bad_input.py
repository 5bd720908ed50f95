"""Bad input in the AlexeyAB fork's grammar: darkbench refuses it with one line naming the file:line or the layer.

Each case says what the fork does with it: `aborts` (an assert or error exit), or `silent` (it runs on and
gives a degenerate or out-of-range result: a 0-channel maxpool, a route group past the last, a layer of
0x0x0, ReLU for an unknown activation) where darkbench refuses rather than give a wrong number. The fork's
side is checked against the fork itself when it is installed ($DARKBENCH_ALEXEYAB)."""
import re
import subprocess
import sys
from pathlib import Path

import pytest

import alexeyab
from alexeyab import ForkCrash
from darkbench import dialect, models
from darkbench.errors import DarkbenchError

ROOT = Path(__file__).resolve().parent.parent
NET = "[net]\nwidth=32\nheight=32\nchannels=3\n"
CONV = "[convolutional]\nfilters=8\nsize=3\npad=1\nactivation=leaky\n"
POOL = "[maxpool]\nsize=2\nstride=2\n"

# (name, cfg text, layers the message may name (the culprit's index; a refusal one layer later is named too
#  where the fork itself only fails there), words it must contain, what the fork does)
CASES = [
    ("route_inputs_differ", NET + CONV + POOL + "[route]\nlayers=-1,-2\n" + CONV, (2, 3), [], "aborts"),
    ("route_inputs_differ_last", NET + CONV + POOL + "[route]\nlayers=-1,-2\n", (2,), [], "silent"),
    ("route_groups_not_dividing", NET + CONV + "[route]\nlayers=-1\ngroups=3\n", (1,), ["groups"], "silent"),
    ("route_group_id_out_of_range", NET + CONV + "[route]\nlayers=-1\ngroups=2\ngroup_id=2\n", (1,),
     ["group_id"], "silent"),
    ("route_group_id_negative", NET + CONV + "[route]\nlayers=-1\ngroups=2\ngroup_id=-1\n", (1,),
     ["group_id"], None),
    ("shortcut_other_size", NET + CONV + POOL + "[shortcut]\nfrom=-2\n", (2,), [], "aborts"),
    ("shortcut_multi_from_other_size", NET + CONV + POOL + CONV +
     "[shortcut]\nfrom=-2,-3\nweights_type=per_feature\nweights_normalization=relu\n", (3,), [], "aborts"),
    ("sam_other_size", NET + CONV + POOL + "[sam]\nfrom=-2\n", (2,), [], "aborts"),
    ("scale_channels_other_size", NET + CONV + POOL + "[avgpool]\n"
     "[convolutional]\nfilters=4\nsize=1\nactivation=logistic\n[scale_channels]\nfrom=-3\n", (4,), [], "aborts"),
    ("share_index_later_layer", NET + CONV + CONV.replace("pad=1", "pad=1\nshare_index=3") + CONV + CONV, (1,),
     ["share_index"], "aborts"),
    ("share_index_not_a_convolution", NET + CONV + POOL + CONV.replace("pad=1", "pad=1\nshare_index=1"), (2,),
     ["share_index"], "aborts"),
    ("share_index_other_shape", NET + CONV + CONV.replace("pad=1", "pad=1\nshare_index=0"), (1,),
     ["share_index"], "aborts"),
    ("maxpool_depth_zero_out_channels", NET + CONV + "[maxpool]\nmaxpool_depth=1\nout_channels=0\n", (1,),
     ["out_channels"], "silent"),
    ("unknown_activation", NET + "[convolutional]\nfilters=8\nsize=3\nactivation=sqrt\n", (0,),
     ["sqrt", "alexeyab", "mish", "swish"], "silent"),
]
IDS = [c[0] for c in CASES]
CLI = ["route_inputs_differ", "share_index_later_layer", "sam_other_size", "unknown_activation"]


def _sections(text):
    """[(first line, last line)] of each section, 1-based, [net] first."""
    starts = [i + 1 for i, l in enumerate(text.splitlines()) if l.startswith("[")]
    ends = [s - 1 for s in starts[1:]] + [len(text.splitlines())]
    return list(zip(starts, ends))


def _check_message(msg, text, layers, words):
    assert msg and "\n" not in msg, f"not one line: {msg!r}"
    assert "Traceback" not in msg
    sections = _sections(text)
    places = {f"layer {i}" for i in layers}
    places |= {f"bad.cfg:{n}" for i in layers for n in range(sections[i + 1][0], sections[i + 1][1] + 1)}
    named = set(re.findall(r"layer \d+", msg)) | set(re.findall(r"bad\.cfg:\d+", msg))
    assert named & places, f"names none of {sorted(places)}: {msg}"
    for w in words:
        assert w in msg, f"{w!r} not in: {msg}"


@pytest.mark.parametrize("name,text,layers,words,fork", CASES, ids=IDS)
def test_refused_in_one_line(tmp_path, name, text, layers, words, fork):
    p = tmp_path / "bad.cfg"
    p.write_text(text)
    with pytest.raises(DarkbenchError) as e:
        models.analyse(str(p), dialect=dialect.ALEXEYAB)
    _check_message(str(e.value), text, layers, words)


@pytest.mark.parametrize("name", CLI)
def test_refused_by_the_cli(tmp_path, name):
    """`darkbench ops --dialect alexeyab` exits non-zero with one error line and no traceback."""
    _, text, layers, words, _ = CASES[IDS.index(name)]
    (tmp_path / "bad.cfg").write_text(text)
    r = subprocess.run([sys.executable, "-m", "darkbench", "ops", "--dialect", "alexeyab", "bad.cfg"],
                       cwd=tmp_path, capture_output=True, text=True, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert r.returncode != 0 and not r.stdout.strip()
    assert "Traceback" not in r.stderr
    errors = [l for l in r.stderr.splitlines() if l.strip() and not l.startswith("warning:")]
    assert len(errors) == 1, r.stderr
    _check_message(errors[0], text, layers, words)


def test_unknown_activation_lists_the_chosen_dialect(tmp_path):
    """The message lists the activations of the dialect in force: the fork's include mish, 2018's do not."""
    p = tmp_path / "bad.cfg"
    p.write_text(NET + "[convolutional]\nfilters=8\nsize=3\nactivation=sqrt\n")
    for d in dialect.NAMES:
        with pytest.raises(DarkbenchError) as e:
            models.analyse(str(p), dialect=d)
        msg = str(e.value)
        assert d in msg and all(a in msg for a in dialect.ACTIVATIONS[d])
        assert ("mish" in msg) == (d == dialect.ALEXEYAB)


@pytest.mark.alexeyab
@pytest.mark.parametrize("name,text,layers,words,fork", [c for c in CASES if c[4]], ids=[c[0] for c in CASES if c[4]])
def test_what_the_fork_does(alexeyab_fork, tmp_path, name, text, layers, words, fork):
    """The table's account of the fork: it aborts, or it runs on (darkbench refuses what would be wrong)."""
    p = tmp_path / "bad.cfg"
    p.write_text(text)
    if fork == "aborts":
        with pytest.raises(ForkCrash):
            alexeyab.fork_ops(p)
    else:
        r = alexeyab.fork_ops(p)
        assert r.crash is None
