"""Weights files in the AlexeyAB fork's dialect, the fork's batch norm, bare names in its zoo, its `speed` as
bench's darknet backend (issue 15)."""
import os
import struct
import sys
from pathlib import Path

import numpy as np
import pytest

from darkbench import models, weights
from darkbench.cli import main
from darkbench.errors import DarkbenchError
from darkbench.header import header_size

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

# batch norm, a weighted shortcut and a shared convolution: the two dialects store different floats
CFG = """[net]
width=8
height=8
channels=3

[convolutional]
filters=4
size=3
pad=1
batch_normalize=1
activation=leaky

[convolutional]
filters=4
size=1
batch_normalize=1
activation=leaky

[shortcut]
from=-2
weights_type=per_channel
weights_normalization=softmax

[convolutional]
filters=4
size=1
share_index=1
batch_normalize=1
activation=linear

[convolutional]
filters=2
size=1
activation=logistic
"""


def _cfg(tmp_path, text=CFG, name="fork.cfg"):
    p = tmp_path / name
    p.write_text(text)
    return p


def _fork_arrays(net, seed=0):
    from test_fork_forward import fork_arrays
    return fork_arrays(net, seed)


def test_header_size_per_dialect():
    assert header_size(0, 2) == header_size(0, 2, "alexeyab") == 20
    assert header_size(0, 1) == header_size(0, 1, "alexeyab") == 16
    # a transposed file's seen: 4 bytes for 2018 darknet, 8 for the fork (it only asks major*10+minor >= 2)
    assert header_size(1001, 0) == 16 and header_size(1001, 0, "alexeyab") == 20


def test_fork_header_read_and_written(tmp_path):
    net = models.analyse(_cfg(tmp_path), dialect="alexeyab")
    f = tmp_path / "w.weights"
    weights.write(f, net, weights.random_arrays(net), header=dict(major=0, minor=2, revision=5, seen=2 ** 40 + 7))
    assert f.read_bytes()[:20] == struct.pack("<3iQ", 0, 2, 5, 2 ** 40 + 7)  # 64-bit seen
    h, _ = weights.read(f, net)
    assert (h["major"], h["minor"], h["revision"], h["seen"], h["header_bytes"]) == (0, 2, 5, 2 ** 40 + 7, 20)


def test_load_save_round_trip_byte_for_byte(tmp_path):
    pytest.importorskip("torch")
    import darkbench
    net = models.analyse(_cfg(tmp_path), dialect="alexeyab")
    f, g = tmp_path / "a.weights", tmp_path / "b.weights"
    weights.write(f, net, _fork_arrays(net), header=dict(major=0, minor=2, revision=5, seen=123456789012))
    darkbench.load(_cfg(tmp_path), f).save_weights(g)  # auto follows the fork's header
    assert g.read_bytes() == f.read_bytes()


@pytest.mark.parametrize("chosen, written, layer", [("alexeyab", "pjreddie", "layer 2 [shortcut]"),
                                                     ("pjreddie", "alexeyab", "layer 2 [shortcut]")])
def test_other_dialects_file_refused_naming_counts_and_layer(tmp_path, chosen, written, layer):
    cfg = _cfg(tmp_path)
    theirs = models.analyse(cfg, dialect=written)
    f = tmp_path / "w.weights"
    weights.write(f, theirs, weights.random_arrays(theirs))
    net = models.analyse(cfg, dialect=chosen, weights=f)
    want, found = weights.expected_floats(net), weights.expected_floats(theirs)
    with pytest.raises(DarkbenchError) as e:
        weights.read(f, net)
    msg = str(e.value)
    assert f"expected {want} floats" in msg and f"found {found} floats" in msg
    assert f"it fits the cfg read in the {written} dialect" in msg
    assert f"{layer} is the first layer darknet would misread" in msg
    assert "\n" not in msg


def test_share_index_is_where_a_2018_file_is_misread(tmp_path):
    """Without the weighted shortcut, the shared convolution (nothing stored in the fork) is the first."""
    cfg = _cfg(tmp_path, CFG.replace("weights_type=per_channel\nweights_normalization=softmax\n", ""))
    theirs = models.analyse(cfg, dialect="pjreddie")
    f = tmp_path / "w.weights"
    weights.write(f, theirs, weights.random_arrays(theirs))
    with pytest.raises(DarkbenchError, match=r"layer 3 \[convolutional\] is the first layer darknet would misread "
                                             r"\(alexeyab: 0 floats there, pjreddie: 32\)"):
        models.load(cfg, f, dialect="alexeyab")


def test_a_different_cfgs_file_names_where_the_loader_runs_out(tmp_path):
    net = models.analyse(_cfg(tmp_path), dialect="alexeyab")
    f = tmp_path / "w.weights"
    weights.write(f, net, weights.random_arrays(net))
    f.write_bytes(f.read_bytes()[:20 + 4 * 100])
    with pytest.raises(DarkbenchError, match=r"found 100 floats \(too short\); darknet's loader would run out of "
                                             r"floats in layer 0 \[convolutional\] \(its floats 0 to 124"):
        weights.read(f, net)


def test_header_of_the_other_dialect_is_read_as_chosen_with_a_warning(tmp_path):
    cfg = _cfg(tmp_path, CFG.replace("share_index=1\n", "").replace(
        "weights_type=per_channel\nweights_normalization=softmax\n", ""), "plain.cfg")
    net = models.analyse(cfg)
    assert net.dialect == "pjreddie"
    f = tmp_path / "w.weights"
    weights.write(f, net, weights.random_arrays(net), header=dict(major=0, minor=2, revision=5, seen=0))
    seen = []
    with models.warnings_to(seen.extend):
        assert models.analyse(cfg, weights=f).dialect == "alexeyab"  # auto follows the header
        assert not seen
        assert models.analyse(cfg, dialect="pjreddie", weights=f).dialect == "pjreddie"
    assert seen == [f"{f}: its header 0.2.5 is what the AlexeyAB fork writes (alexeyab dialect); read in the "
                    "pjreddie dialect (as chosen)"]


def test_weights_info_names_the_dialects(tmp_path, capsys):
    cfg = _cfg(tmp_path)
    f = tmp_path / "w.weights"
    assert main(["weights", "init", str(cfg), str(f)]) == 0
    capsys.readouterr()
    assert main(["weights", "info", str(cfg), str(f)]) == 0
    out = capsys.readouterr().out
    assert ("dialect: the header 0.2.5 is what the AlexeyAB fork writes (alexeyab dialect); the cfg alone reads "
            "in the alexeyab dialect; read in the alexeyab dialect (auto: the header's)") in out
    assert "mismatch" not in out and "fits" in out
    assert main(["weights", "info", "--dialect", "pjreddie", str(cfg), str(f)]) == 1
    out = capsys.readouterr().out
    assert "read in the pjreddie dialect (--dialect pjreddie)" in out
    assert "mismatch: the AlexeyAB fork wrote this file, the cfg is read as 2018 darknet reads it" in out
    assert "it fits the cfg read in the alexeyab dialect" in out


def test_fork_batch_norm_formula(tmp_path):
    """sqrt(var + .00001) in the fork's dialect, sqrt(var) + .000001 in 2018's; folded the same way."""
    torch = pytest.importorskip("torch")
    import darkbench
    text = "[net]\nwidth=4\nheight=4\nchannels=2\n\n[convolutional]\nfilters=2\nsize=1\nbatch_normalize=1\n" \
           "activation=linear\n"
    cfg = _cfg(tmp_path, text, "bn.cfg")
    x = torch.ones(1, 2, 4, 4)
    for dialect, std in (("alexeyab", (1e-4 + 1e-5) ** 0.5), ("pjreddie", 1e-2 + 1e-6)):
        net = models.analyse(cfg, dialect=dialect)
        arrays = {k: np.zeros(s, "<f4") for k, s in ((k, v.shape) for k, v in weights.random_arrays(net).items())}
        arrays[(0, "weights")] += np.eye(2, dtype="<f4").reshape(2, 2, 1, 1)
        arrays[(0, "scales")] += 1
        arrays[(0, "rolling_variance")] += 1e-4
        f = tmp_path / f"{dialect}.weights"
        weights.write(f, net, arrays, overwrite=True)
        for fuse in (False, True):
            with torch.no_grad():
                y = darkbench.load(cfg, f, dialect=dialect, fuse=fuse)(x)
            assert torch.allclose(y, torch.full_like(y, 1 / std), rtol=1e-6), (dialect, fuse)


# -- with the fork ----------------------------------------------------------------------------------------------
@pytest.mark.alexeyab
def test_weights_init_in_the_forks_dialect_is_what_the_fork_reads_and_saves(alexeyab_fork, tmp_path):
    """The fork loads `weights init --dialect alexeyab`'s file and saves it back byte for byte."""
    from test_fork_sections import fork_forward
    cfg = _cfg(tmp_path)
    f, saved = tmp_path / "init.weights", tmp_path / "fork.weights"
    assert main(["weights", "init", "--dialect", "alexeyab", "--seed", "3", str(cfg), str(f)]) == 0
    net = models.analyse(cfg, dialect="alexeyab")
    fork_forward(alexeyab_fork, cfg, f, np.zeros(net.inputs, "<f4"), tmp_path, saved)
    assert saved.read_bytes() == f.read_bytes()


@pytest.mark.alexeyab
def test_forks_own_file_round_trips(alexeyab_fork, tmp_path):
    """`darknet partial`'s file: read, saved again byte for byte."""
    pytest.importorskip("torch")
    import darkbench
    cfg = _cfg(tmp_path)
    f = alexeyab_fork.save_random(cfg, tmp_path / "fork.weights")
    model = darkbench.load(cfg, f)
    assert model.spec.dialect == "alexeyab"
    model.save_weights(tmp_path / "again.weights")
    assert (tmp_path / "again.weights").read_bytes() == f.read_bytes()


@pytest.mark.alexeyab
def test_the_2018_batch_norm_would_not_match_the_fork(alexeyab_fork, tmp_path):
    """The forward-parity weights do tell the two batch-norm formulas apart."""
    torch = pytest.importorskip("torch")
    import darkbench
    from darkbench.nn import DarknetBN
    from test_fork_forward import rel_l2
    from test_fork_sections import fork_forward
    cfg = _cfg(tmp_path)
    net = models.analyse(cfg, dialect="alexeyab")
    f = tmp_path / "w.weights"
    weights.write(f, net, _fork_arrays(net))
    x = np.random.default_rng(0).uniform(0, 1, net.inputs).astype("<f4")
    want = fork_forward(alexeyab_fork, cfg, f, x, tmp_path)[0]
    model = darkbench.load(cfg, f)
    with torch.no_grad():
        assert rel_l2(want, model.layer_outputs(torch.from_numpy(x).reshape(1, 3, 8, 8))[0].reshape(-1).numpy()) < 1e-5
        for m in model.modules():
            if isinstance(m, DarknetBN):
                m.fork = False
        assert rel_l2(want, model.layer_outputs(torch.from_numpy(x).reshape(1, 3, 8, 8))[0].reshape(-1).numpy()) > 1e-3


# -- stand-alone [batchnorm]: the fork stores and adds its biases ------------------------------------------------
SEVEN_BN = """[net]
width=12
height=10
channels=3

[batchnorm]

[convolutional]
filters=8
size=3
pad=1
activation=mish

[batchnorm]

[batchnorm]

[maxpool]
size=2
stride=2

[batchnorm]

[convolutional]
filters=5
size=1
activation=linear

[batchnorm]

[route]
layers=-1,-4

[batchnorm]

[convolutional]
filters=4
size=3
pad=1
activation=leaky

[batchnorm]
"""


def test_standalone_batchnorm_layout_per_dialect(tmp_path):
    """The fork's save_batchnorm_weights writes biases, scales, rolling mean, rolling variance; 2018's three
    (its biases stay zero)."""
    cfg = _cfg(tmp_path, SEVEN_BN.replace("mish", "leaky"), "bn.cfg")
    fork, old = models.analyse(cfg, dialect="alexeyab"), models.analyse(cfg, dialect="pjreddie")
    bns = [(a, b) for a, b in zip(fork.layers, old.layers) if a.type == "batchnorm"]
    assert [a.out_shape[0] for a, _ in bns] == [3, 8, 8, 8, 5, 13, 4]
    for a, b in bns:
        c = a.out_shape[0]
        assert [n for n, _ in a.weights] == ["biases", "scales", "rolling_mean", "rolling_variance"]
        assert a.weights[1:] == b.weights and all(s == (c,) for _, s in a.weights)
        assert (a.params, a.weight_floats, b.params, b.weight_floats) == (2 * c, 4 * c, c, 3 * c)
    assert fork.weights_bytes - old.weights_bytes == 4 * (3 + 8 + 8 + 8 + 5 + 13 + 4) == 196
    assert fork.params - old.params == 49


@pytest.mark.alexeyab
def test_standalone_batchnorm_as_the_fork_saves_loads_and_computes_it(alexeyab_fork, tmp_path):
    """Seven stand-alone [batchnorm] layers: the size of the file the fork writes, its own file read and saved
    back byte for byte, ours (biases away from zero) read and saved back by the fork byte for byte, and every
    layer's output as the fork's forward computes it, which 2018's forward (no biases) would not give."""
    torch = pytest.importorskip("torch")
    import darkbench
    from test_fork_forward import rel_l2
    from test_fork_sections import fork_forward
    cfg = _cfg(tmp_path, SEVEN_BN, "bn.cfg")
    net = models.analyse(cfg)
    assert net.dialect == "alexeyab"
    assert net.weights_bytes == alexeyab_fork.weights_bytes(cfg) == 20 + 4 * (8 * 27 + 8 + 5 * 8 + 5 + 4 * 13 * 9 + 4
                                                                              + 4 * 49)
    theirs = alexeyab_fork.save_random(cfg, tmp_path / "theirs.weights")
    darkbench.load(cfg, theirs).save_weights(tmp_path / "again.weights")
    assert (tmp_path / "again.weights").read_bytes() == theirs.read_bytes()

    ours, saved = tmp_path / "ours.weights", tmp_path / "saved.weights"
    weights.write(ours, net, _fork_arrays(net))
    x = np.random.default_rng(2).uniform(-1, 1, net.inputs).astype("<f4")
    want = fork_forward(alexeyab_fork, cfg, ours, x, tmp_path, saved)
    assert saved.read_bytes() == ours.read_bytes()
    model = darkbench.load(cfg, ours)
    with torch.no_grad():
        got = model.layer_outputs(torch.from_numpy(x).reshape(1, *model.input_shape))
        errors = [rel_l2(a, b.reshape(-1).numpy()) for a, b in zip(want, got)]
        assert len(errors) == len(net.layers) and max(errors) < 1e-5, errors
        for l, m in zip(net.layers, model.layers):  # the biases zeroed, as 2018's stand-alone batch norm has them
            if l.type == "batchnorm":
                m.tensors()["biases"].zero_()
        got = model.layer_outputs(torch.from_numpy(x).reshape(1, *model.input_shape))
    assert rel_l2(want[0], got[0].reshape(-1).numpy()) > 1e-2


# -- bare names, bench -----------------------------------------------------------------------------------------
def test_bare_names_find_the_forks_zoo_last(tmp_path, monkeypatch):
    from darkbench import paths
    zoo = tmp_path / "fork" / "cfg"
    zoo.mkdir(parents=True)
    (zoo / "only-in-fork.cfg").write_text(CFG)
    (zoo / "tiny.cfg").write_text(CFG)  # the project's cfg/ has a tiny.cfg: that one wins
    monkeypatch.delenv("DARKBENCH_CFG_PATH", raising=False)
    monkeypatch.delenv("DARKBENCH_ALEXEYAB", raising=False)
    with pytest.raises(DarkbenchError, match="no such file"):
        paths.resolve("only-in-fork")
    monkeypatch.setenv("DARKBENCH_ALEXEYAB", str(tmp_path / "fork"))
    assert paths.resolve("only-in-fork") == str(zoo / "only-in-fork.cfg")
    assert paths.resolve("tiny") == str(paths.PROJECT_CFG / "tiny.cfg")
    assert paths.search_path()[-1] == zoo
    assert models.analyse("only-in-fork").dialect == "alexeyab"


@pytest.mark.alexeyab
def test_bench_darknet_backend_runs_the_forks_speed(alexeyab_fork, tmp_path, monkeypatch):
    from darkbench.bench.backends import darknet_speed, registry
    from darkbench.bench.model import Model
    monkeypatch.setattr(darknet_speed, "CHUNK_S", 0.05)
    r = registry.prepare("darknet", Model.analyse(str(_cfg(tmp_path))), threads=1)
    try:
        assert r.extra["darknet"] == str(alexeyab_fork.exe) and "AlexeyAB fork" in r.note
        assert 0 < r.first_ms < 1000 and 0 < r.measure() < 1000
    finally:
        r.close()


def test_bench_darknet_backend_skips_fork_cfgs_without_the_fork(tmp_path, monkeypatch):
    from darkbench.bench.backends import base, registry
    from darkbench.bench.model import Model
    monkeypatch.delenv("DARKBENCH_ALEXEYAB", raising=False)
    with pytest.raises(base.Skip, match="set DARKBENCH_ALEXEYAB"):
        registry.prepare("darknet", Model.analyse(str(_cfg(tmp_path))))
    assert os.environ.get("DARKBENCH_ALEXEYAB") is None
