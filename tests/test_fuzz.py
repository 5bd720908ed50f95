"""Fuzzing: mutated and random cfg text only ever raises DarkbenchError (one line naming file, line or layer),
in either darknet dialect: 2018 darknet's grammar from the project's cfgs, the AlexeyAB fork's from its zoo
($DARKBENCH_ALEXEYAB/cfg, when there) and tests/cfgs/alexeyab_fuzz."""
import glob
import math
import os
import random
import re
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


def _fork_zoo():
    d = os.environ.get("DARKBENCH_ALEXEYAB")
    return sorted(Path(d, "cfg").glob("*.cfg")) if d else []


FORK_SEEDS = [p.read_text(errors="replace") for p in
              sorted((ROOT / "tests/cfgs/alexeyab_fuzz").glob("*.cfg")) + _fork_zoo()]
FORK_VALUES = VALUES + ["mish", "hard_mish", "relu6", "gelu", "revleaky", "normalize_channels", "per_channel",
                        "per_feature", "softmax", "relu", "none", "-2,-3", "-1,-2,-3", "0,1", "4", "-4", "64"]
FORK_SECTIONS = ["sam", "scale_channels", "Gaussian_yolo", "conv_lstm", "history", "local_avgpool", "reorg3d",
                 "contrastive", "empty", "silence", "implicit", "crnn", "route", "shortcut", "maxpool", "yolo",
                 "convolutional", "lstm", "region", "avgpool", "upsample", "batchnorm", "net"]
FORK_KEYS = ["groups", "group_id", "share_index", "maxpool_depth", "out_channels", "stride_x", "stride_y",
             "dilation", "antialiasing", "weights_type", "weights_normalization", "from", "scale_wh", "xnor",
             "bin_output", "new_coords", "scale_x_y", "history_size", "atoms", "filters", "peephole",
             "bottleneck", "reverse", "layers", "stride", "size", "pad", "output", "hidden", "activation",
             "yolo_layer", "mask", "num", "classes", "batch_normalize", "cbn", "time_steps"]
NAMED = re.compile(r"fuzz\.cfg|\blayer \d+")


def _check(text, dialect="auto", named=False):
    try:
        net = analyse("fuzz.cfg", text=text, dialect=dialect)
    except DarkbenchError as e:
        assert str(e) and "\n" not in str(e)
        if named:
            assert NAMED.search(str(e)), f"names no file, line or layer: {e}"
        return
    layer_rows(net)
    net.summary()
    assert math.isfinite(net.bflops) and net.bflops >= 0


SECTIONS = ["net", "route", "yolo", "shortcut", "conv", "x", "connected", "upsample", "reorg", "crop", "local",
            "deconv", "gru"]


@st.composite
def mutated(draw, seeds, values, sections, keys=()):
    """A seed cfg with a few lines deleted, duplicated, re-valued, or sections (and options) inserted."""
    rnd = random.Random(draw(st.integers(0, 2 ** 32)))
    lines = rnd.choice(seeds).splitlines()
    for _ in range(draw(st.integers(1, 6))):
        op = rnd.randrange(6 if keys else 5)
        i = rnd.randrange(len(lines)) if lines else 0
        if op == 0 and lines:
            del lines[i]
        elif op == 1 and lines:
            lines.insert(i, lines[rnd.randrange(len(lines))])
        elif op == 2 and lines and "=" in lines[i]:
            lines[i] = lines[i].split("=")[0] + "=" + rnd.choice(values)
        elif op == 3:
            lines.insert(i, "[" + rnd.choice(sections) + "]")
        elif op == 4 and keys:
            lines.insert(i, rnd.choice(keys) + "=" + rnd.choice(values))
        else:
            lines.insert(i, draw(st.text(max_size=20)))
    return "\n".join(lines)


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(mutated(SEEDS, VALUES, SECTIONS))
def test_mutated_cfgs(text):
    _check(text)


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(mutated(FORK_SEEDS, FORK_VALUES, FORK_SECTIONS, FORK_KEYS), st.sampled_from(["alexeyab", "auto"]))
def test_mutated_fork_cfgs(text, dialect):
    _check(text, dialect, named=True)


def test_fork_seeds_are_read():
    """The fork-grammar seeds themselves are read in the fork's dialect (and auto picks it for them)."""
    for p in sorted((ROOT / "tests/cfgs/alexeyab_fuzz").glob("*.cfg")):
        assert analyse(p, dialect="alexeyab").layers
        assert analyse(p).dialect == "alexeyab", p.name


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
