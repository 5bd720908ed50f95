"""Fuzzing: mutated and random cfg text only ever raises DarkbenchError."""
import glob
import random
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from darkbench import analyse
from darkbench.commands.summary import layer_rows
from darkbench.errors import DarkbenchError

ROOT = Path(__file__).resolve().parent.parent
SEEDS = [p.read_text() for p in sorted(ROOT.glob("cfg/*.cfg"))] + [
    Path(p).read_text() for p in sorted(glob.glob(str(ROOT / "tests/cfgs/*.cfg")))]
VALUES = ["0", "-1", "1", "2", "3", "-3", "7", "1000", "99999999", "1.5", "abc", "", "nan", "-0", "1,2",
          "0,-1", "-100", "leaky", "swish", "linear", "9223372036854775808", "1e9"]


def _check(text):
    try:
        net = analyse("fuzz.cfg", text=text)
    except DarkbenchError as e:
        assert str(e) and "\n" not in str(e)
        return
    layer_rows(net)
    net.summary()


@st.composite
def mutated(draw):
    rnd = random.Random(draw(st.integers(0, 2 ** 32)))
    lines = rnd.choice(SEEDS).splitlines()
    for _ in range(draw(st.integers(1, 6))):
        op = rnd.randrange(5)
        i = rnd.randrange(len(lines)) if lines else 0
        if op == 0 and lines:
            del lines[i]
        elif op == 1 and lines:
            lines.insert(i, lines[rnd.randrange(len(lines))])
        elif op == 2 and lines and "=" in lines[i]:
            lines[i] = lines[i].split("=")[0] + "=" + rnd.choice(VALUES)
        elif op == 3:
            lines.insert(i, "[" + rnd.choice(["net", "route", "yolo", "shortcut", "conv", "x", "connected",
                                              "upsample", "reorg", "crop", "local", "deconv", "gru"]) + "]")
        else:
            lines.insert(i, draw(st.text(max_size=20)))
    return "\n".join(lines)


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(mutated())
def test_mutated_cfgs(text):
    _check(text)


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.text(alphabet=st.sampled_from(list("[]=#;,.-0123456789 \n\tnetconvlayersfromwidthheight")), max_size=300))
def test_random_text(text):
    _check(text)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes(tmp_path_factory, data):
    p = tmp_path_factory.mktemp("fz") / "b.cfg"
    p.write_bytes(data)
    try:
        analyse(p)
    except DarkbenchError as e:
        assert "\n" not in str(e)
