"""The section types only the AlexeyAB fork's parser has, against the fork program itself.

Each hand-written cfg in tests/cfgs/alexeyab_sections (several sizes) is read by darkbench in the
alexeyab dialect and by the fork: per-layer type and output shape (tests/harness/akharness.c), per-layer
BF (the harness's float32 l.bflops, exactly), Total BFLOPS (`darknet ops`, 3 decimals) and the size of
the weights file the fork writes (`darknet partial`). Bad input is refused in one line naming the file,
line and layer, where the fork aborts, errors out or silently misreads.
"""
import struct
from pathlib import Path

import numpy as np
import pytest

import alexeyab
from darkbench import network
from darkbench.errors import DarkbenchError
from darkbench.layers import family, trait

pytestmark = pytest.mark.alexeyab

HERE = Path(__file__).parent / "cfgs" / "alexeyab_sections"
CFGS = sorted(HERE.glob("*.cfg"))
SIZES = [None, (96, 64), (40, 72), (320, 256)]  # the cfg's own, then width x height overrides
NEW = ("sam", "scale_channels", "Gaussian_yolo", "conv_lstm", "history", "local_avgpool", "reorg3d",
       "contrastive", "empty", "implicit")
ALIASES = {"local_avg": "local_avgpool", "silence": "empty"}
BATCH_DEPENDENT = {"conv_lstm_batch"}  # its conv_lstm BF use `ops`' batch; the harness parses with 1


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def analyse(cfg, size=None):
    w, h = size or (None, None)
    return network.analyse(cfg, w, h, dialect="alexeyab")


def ids(v):
    return "own" if v is None else f"{v[0]}x{v[1]}"


def test_every_section_has_a_cfg():
    seen = set()
    for cfg in CFGS:
        for line in cfg.read_text().splitlines():
            if line.startswith("["):
                name = line.strip("[]")
                seen.add(ALIASES.get(name, name))
    assert set(NEW) <= seen
    assert {"local_avg", "silence"} <= {l.strip("[]") for c in CFGS for l in c.read_text().splitlines()}


@pytest.mark.parametrize("name", NEW + tuple(ALIASES))
def test_fork_only(name):
    fam = family(name)
    assert fam is not None and trait(fam, "DIALECTS") == ("alexeyab",)
    assert fam.NAMES[0] == ALIASES.get(name, name)


@pytest.mark.parametrize("size", SIZES, ids=ids)
@pytest.mark.parametrize("cfg", CFGS, ids=lambda p: p.stem)
def test_shapes_bf_and_weights(alexeyab_fork, cfg, size):
    w, h = size or (None, None)
    net = analyse(cfg, size)
    layers, saved, _ = alexeyab.fork_info(cfg, w, h)
    assert len(net.layers) == len(layers)
    for l, f in zip(net.layers, layers):
        where = f"layer {l.index} [{l.type}]"
        assert (l.type.lower(), l.out_shape, l.outputs) == (f.type, (f.out_c, f.out_h, f.out_w), f.outputs), where
        if l.type in NEW and cfg.stem not in BATCH_DEPENDENT:
            assert l.bflops == f32(f.bflops), where
    assert net.weights_bytes == saved == alexeyab.fork_weights_bytes(cfg, w, h)


@pytest.mark.parametrize("size", SIZES, ids=ids)
@pytest.mark.parametrize("cfg", CFGS, ids=lambda p: p.stem)
def test_total_bflops(alexeyab_fork, cfg, size):
    w, h = size or (None, None)
    net = analyse(cfg, size)
    ops = alexeyab.fork_ops(cfg, w, h)
    layers = alexeyab.fork_shapes(cfg, w, h)
    if cfg.stem not in BATCH_DEPENDENT:  # every layer's BF, the 2018 families' (convolutional...) too
        assert [l.bflops for l in net.layers] == [f32(f.bflops) for f in layers]
    assert f"{net.bflops:.3f}" == f"{ops.total:.3f}"


ZOO = ("Gaussian_yolov3_BDD", "efficientnet_b0", "enet-coco", "yolov4-sam-mish-csp-reorg-bfm",
       "yolov4-tiny_contrastive")


@pytest.mark.parametrize("name", ZOO)
def test_zoo_layers(alexeyab_fork, name):
    """The fork's own cfgs that use these sections: each such layer's shape and BF."""
    cfg = alexeyab_fork.cfg_dir / f"{name}.cfg"
    net = network.analyse(cfg)
    assert net.dialect == "alexeyab"
    layers = alexeyab.fork_shapes(cfg)
    mine = [(l, f) for l, f in zip(net.layers, layers) if l.type in NEW]
    assert mine
    for l, f in mine:
        where = f"layer {l.index} [{l.type}]"
        assert (l.type.lower(), l.out_shape, l.outputs) == (f.type, (f.out_c, f.out_h, f.out_w), f.outputs), where
        assert l.bflops == f32(f.bflops), where
    assert not [w for w in net.warnings if any(f"[{t}]" in w for t in NEW)]


def test_conv_lstm_bf_follow_ops_batch(alexeyab_fork):
    """`darknet ops` parses with the cfg's batch: a conv_lstm's gate term counts batch/subdivisions images
    (16/2 here; time_steps=4 multiplies and divides it out). At batch 1 the total would be 0.098."""
    cfg = HERE / "conv_lstm_batch.cfg"
    net = analyse(cfg)
    assert f"{net.bflops:.3f}" == f"{alexeyab.fork_ops(cfg).total:.3f}" == "0.107"
    one = network.analyse(cfg, text=cfg.read_text().replace("batch=16", "batch=2"), dialect="alexeyab")
    assert f"{one.bflops:.3f}" == "0.098"
    # with batch 1, as the harness parses it, the per-layer values are the harness's
    for l, f in zip(one.layers, alexeyab.fork_shapes(cfg)):
        assert l.bflops == f32(f.bflops)


def test_conv_lstm_weights_order():
    net = analyse(HERE / "conv_lstm_bottleneck.cfg")
    plain, both = net.layers
    assert [n for n, _ in plain.weights if n.endswith(".weights")] == [
        "wf.weights", "uf.weights", "ui.weights", "ug.weights", "uo.weights"]
    assert dict(plain.weights)["wf.weights"] == (8, 16, 3, 3)  # bottleneck: over 2*output channels
    assert [n.split(".")[0] for n, _ in both.weights if n.endswith(".weights")] == [
        "vf", "vi", "vo", "wf", "uf", "ui", "ug", "uo"]
    assert [n for n, _ in both.weights[:4]] == ["vf.biases", "vf.scales", "vf.rolling_mean", "vf.rolling_variance"]


def test_auto_dialect_picks_the_fork():
    for cfg in CFGS:
        assert network.analyse(cfg).dialect == "alexeyab", cfg.name


@pytest.mark.parametrize("name", NEW + tuple(ALIASES))
def test_refused_in_pjreddie_dialect(name):
    text = f"[net]\nwidth=8\nheight=8\nchannels=3\n\n[{name}]\n"
    with pytest.raises(DarkbenchError) as e:
        network.analyse("x.cfg", text=text, dialect="pjreddie")
    msg = str(e.value)
    assert msg.startswith(f"x.cfg:6 layer 0: unknown section [{name}] in the pjreddie dialect") and "\n" not in msg


HEAD = """[net]
width=16
height=16
channels=3

[convolutional]
filters=8
size=3
stride=1
pad=1
activation=leaky
"""
CONV = "\n[convolutional]\nfilters={n}\nsize={k}\nstride={s}\npad=1\nactivation=leaky\n"

# (cfg after HEAD, line of the error, what the message says, does the fork refuse it too)
BAD = {
    "sam_size": (CONV.format(n=8, k=3, s=2) + "\n[sam]\nfrom=-2\n", 21,
                 "layer 0 is 16x16x8 but the previous layer is 8x8x8", True),
    "sam_channels": (CONV.format(n=4, k=3, s=1) + "\n[sam]\nfrom=-2\n", 21,
                     "layer 0 is 16x16x8 but the previous layer is 16x16x4", True),
    "scale_not_1x1": (CONV.format(n=8, k=3, s=1) + "\n[scale_channels]\nfrom=-2\n", 21,
                      "needs 1x1x8 factors, one per channel of layer 0", True),
    "scale_channels": ("\n[avgpool]\n" + CONV.format(n=4, k=1, s=1) + "\n[scale_channels]\nfrom=-3\n", 23,
                       "the previous layer is 1x1x4, layer 0 is 16x16x8", True),
    "scale_wh": (CONV.format(n=2, k=1, s=1) + "\n[scale_channels]\nfrom=-2\nscale_wh=1\n", 21,
                 "scale_wh=1 needs 16x16x1 factors", True),
    "sam_future": ("\n[sam]\nfrom=3\n", 14, "from=3 refers to layer 3, in the future", False),
    "sam_no_from": ("\n[sam]\n", 13, "missing required option 'from'", True),
    "gaussian_channels": (CONV.format(n=20, k=1, s=1) + "\n[Gaussian_yolo]\nmask=0,1\nnum=2\nclasses=2\n", 20,
                          "input has 20 channels but 2 masks x (2 classes + 9) needs 22", True),
    "gaussian_mask": (CONV.format(n=22, k=1, s=1) + "\n[Gaussian_yolo]\nmask=0,2\nnum=2\nclasses=2\n", 21,
                      "mask [0, 2] refers to anchors outside 0..1", False),
    "gaussian_counters": (CONV.format(n=22, k=1, s=1)
                          + "\n[Gaussian_yolo]\nmask=0,1\nnum=2\nclasses=2\ncounters_per_class=1,2,3\n", 24,
                          "counters_per_class has 3 values for classes=2", True),
    "contrastive_no_yolo": ("\n[contrastive]\nclasses=2\n", 13, "needs yolo_layer= naming its [yolo] layer", True),
    "contrastive_not_yolo": (CONV.format(n=8, k=1, s=1) + "\n[contrastive]\nyolo_layer=-1\n", 21,
                             "yolo_layer=-1 is layer 1 (convolutional), not a [yolo] layer", True),
    "reorg3d_divide": ("\n[reorg3d]\nstride=3\n", 14, "stride 3 does not divide the 16x16 input", False),
    "reorg3d_reverse": ("\n[reorg3d]\nstride=3\nreverse=1\n", 14, "8 channels are not divisible by stride^2=9",
                        False),
    "implicit_filters": ("\n[implicit]\nfilters=0\n", 14, "filters=0 must be >= 1", False),
    "lstm_activation": ("\n[conv_lstm]\noutput=4\nlstm_activation=wobbly\n", 15,
                        "unknown activation 'wobbly' in the alexeyab dialect", False),
    "conv_lstm_groups": ("\n[conv_lstm]\noutput=4\ngroups=3\n", 15, "groups=3 does not divide its input channels 8",
                         False),
    "local_avgpool_empty": ("\n[local_avgpool]\nsize=40\npadding=0\n", 13, "window 40x40 with padding 0 is larger",
                            False),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input(case):
    body, line, says, _ = BAD[case]
    with pytest.raises(DarkbenchError) as e:
        network.analyse("bad.cfg", text=HEAD + body, dialect="alexeyab")
    msg = str(e.value)
    assert msg.startswith(f"bad.cfg:{line} layer "), msg
    assert says in msg and "\n" not in msg, msg


@pytest.mark.parametrize("case", sorted(c for c in BAD if BAD[c][3]))
def test_bad_input_the_fork_refuses_too(alexeyab_fork, case, tmp_path):
    cfg = tmp_path / f"{case}.cfg"
    cfg.write_text(HEAD + BAD[case][0])
    with pytest.raises(alexeyab.ForkCrash):
        alexeyab.fork_ops(cfg)


def test_subdivisions_zero():
    text = HEAD.replace("[net]\n", "[net]\nsubdivisions=0\n") + "\n[conv_lstm]\noutput=4\n"
    with pytest.raises(DarkbenchError, match=r"^bad.cfg.*subdivisions=0 must be a nonzero integer"):
        network.analyse("bad.cfg", text=text, dialect="alexeyab")


def test_unknown_option_is_a_warning():
    """As for every family: the fork ignores options it does not read (its "Unused field"), so do we,
    with a warning naming the line."""
    net = network.analyse("w.cfg", text=HEAD + "\n[empty]\nwobble=1\n", dialect="alexeyab")
    assert net.warnings == ["w.cfg:14: layer 1 [empty] unknown option 'wobble' (the AlexeyAB fork ignores it)"]
    net = analyse(HERE / "gaussian_yolo.cfg")
    assert not net.warnings  # every option the fork reads for [Gaussian_yolo] is known


# -- torch: the trivial ones are built (shapes only; the others are issue 15) -------------------------------

BUILT = ("empty", "sam", "scale_channels", "implicit", "local_avgpool", "reorg3d", "contrastive", "Gaussian_yolo",
         "history", "conv_lstm")


@pytest.mark.parametrize("cfg", CFGS, ids=lambda p: p.stem)
def test_torch(cfg):
    torch = pytest.importorskip("torch")
    from darkbench import torch_model
    net = analyse(cfg)
    from darkbench.layers.conv_lstm import refusal
    unbuilt = [l for l in net.layers if (l.type in NEW and l.type not in BUILT)
               or (l.type == "conv_lstm" and refusal(l))]
    if unbuilt:
        with pytest.raises(DarkbenchError) as e:
            torch_model.build(net)
        l = unbuilt[0]
        why = (f"{refusal(l)}: counted, not built in PyTorch" if l.type == "conv_lstm" else
               "is counted but not built yet (AlexeyAB dialect PyTorch modules: issue 15)")
        assert str(e.value) == f"{cfg}:{l.line} layer {l.index}: [{l.type}] {why}"
        return
    model = torch_model.build(net)
    outs = model.layer_outputs(torch.randn(2, *model.input_shape))
    for l, o in zip(net.layers, outs):
        assert o.shape[0] == 2 and o[0].numel() == l.outputs, l.index
        if o.dim() == 4:  # a connected output (and what passes it on) stays (N, outputs)
            assert tuple(o.shape[1:]) == l.out_shape, l.index


def test_reorg3d_is_space_to_depth():
    torch = pytest.importorskip("torch")
    from darkbench import torch_model
    net = analyse(HERE / "reorg3d.cfg")
    model = torch_model.build(net)
    x = torch.randn(1, *model.input_shape)
    outs = model.layer_outputs(x)
    a, b = outs[0][0], outs[1][0]  # (16, 32, 32) -> (64, 16, 16)
    for dy in range(2):
        for dx in range(2):
            assert torch.equal(b[(dy * 2 + dx) * 16:(dy * 2 + dx + 1) * 16], a[:, dy::2, dx::2])


def test_local_avgpool_counts_inside_cells_only():
    torch = pytest.importorskip("torch")
    from darkbench import torch_model
    text = "[net]\nwidth=3\nheight=3\nchannels=1\n\n[local_avgpool]\nsize=2\nstride=1\n"
    model = torch_model.build(network.analyse("p.cfg", text=text, dialect="alexeyab"))
    x = torch.arange(9.0).reshape(1, 1, 3, 3)
    # padding size-1 = 1: windows start at -0 (pad/2 = 0), the last row/column hangs over the edge
    want = torch.tensor([[2.0, 3.0, 3.5], [5.0, 6.0, 6.5], [6.5, 7.5, 8.0]])
    assert torch.equal(model(x)[0, 0], want)


def test_implicit_reads_the_forks_weights(alexeyab_fork, tmp_path):
    """The fork's own randomly initialised file (mean=1, std=0.02 here) loads, and the implicit layer
    outputs its stored values for every image."""
    torch = pytest.importorskip("torch")
    from darkbench import torch_model
    cfg = HERE / "implicit.cfg"
    path = alexeyab_fork.save_random(cfg, tmp_path / "implicit.weights")
    net = analyse(cfg)
    model = torch_model.build(net)
    model.load_weights(str(path))
    floats = np.fromfile(path, dtype="<f4", offset=20)
    start = net.layers[0].weight_floats
    stored = torch.from_numpy(floats[start:start + 32].copy()).reshape(16, 2, 1)
    out = model.layer_outputs(torch.zeros(3, *model.input_shape))[1]
    assert torch.equal(out, stored.expand(3, 16, 2, 1))
    assert (stored - 1).abs().max() <= 0.02


# -- the built modules against the fork's own forward pass ---------------------------------------------------

FORWARD = ("sam", "scale_channels", "implicit", "local_avgpool", "reorg3d", "empty", "gaussian_yolo", "contrastive",
           "history")


def fork_forward(fork, cfg, weights, x, tmp_path, saved=None):
    """Every layer's output as the fork computes it (tests/harness/akforward.c), batch 1; with saved, the
    weights the fork loaded as it saves them, written there."""
    import subprocess
    from darknet import _build
    inc = fork.root / "include"
    exe = _build(Path(__file__).with_name("harness") / "akforward.c", "",
                 [f"-I{inc}", f"-L{fork.root}", "-ldarknet", f"-Wl,-rpath,{fork.root}", "-lm"])
    x.astype("<f4").tofile(tmp_path / "in.f32")
    r = subprocess.run([str(exe), str(cfg), str(weights), str(tmp_path / "in.f32"), str(tmp_path / "out.f32")]
                       + ([str(Path(saved).resolve())] if saved else []),
                       capture_output=True, text=True, cwd=fork.home, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    data, outs, pos = (tmp_path / "out.f32").read_bytes(), [], 0
    while pos < len(data):
        n = int.from_bytes(data[pos:pos + 4], "little")
        outs.append(np.frombuffer(data, "<f4", n, pos + 4))
        pos += 4 + 4 * n
    return outs


@pytest.mark.parametrize("name", FORWARD)
def test_forward_matches_the_fork(alexeyab_fork, name, tmp_path):
    """Same weights (the fork's own random file), same input: every layer's output agrees to float
    rounding. batch_normalize is dropped from the cfgs here: the fork's inference batch norm divides by
    sqrt(variance + .00001), not 2018's sqrt(variance) + .000001 (the convolutional family's business)."""
    torch = pytest.importorskip("torch")
    from darkbench import torch_model
    cfg = tmp_path / f"{name}.cfg"
    text = "\n".join(l for l in (HERE / f"{name}.cfg").read_text().splitlines() if "batch_normalize" not in l)
    cfg.write_text(text.replace("scale_x_y=1.05", "scale_x_y=1.2") + "\n")
    weights = alexeyab_fork.save_random(cfg, tmp_path / "random.weights")
    net = analyse(cfg)
    model = torch_model.build(net)
    model.load_weights(str(weights))
    x = np.random.default_rng(1).uniform(0, 1, net.inputs).astype("<f4")
    want = fork_forward(alexeyab_fork, cfg, weights, x, tmp_path)
    with torch.no_grad():
        got = model.layer_outputs(torch.from_numpy(x).reshape(1, *model.input_shape))
    assert len(got) == len(want)
    for l, a, b in zip(net.layers, want, got):
        b = b.reshape(-1).numpy()
        assert a.shape == b.shape, l.index
        assert np.abs(a - b).max() <= 1e-5 * max(1.0, np.abs(a).max()), f"layer {l.index} [{l.type}]"


def test_history_over_time_steps_is_not_built():
    pytest.importorskip("torch")
    from darkbench import torch_model
    text = (HERE / "history.cfg").read_text().replace("[net]\n", "[net]\ntime_steps=2\n")
    net = network.analyse("h.cfg", text=text, dialect="alexeyab")
    with pytest.raises(DarkbenchError, match=r"^h.cfg:15 layer 1: \[history\] is counted but not built yet "
                                             r"\(AlexeyAB dialect PyTorch modules: issue 15\)$"):
        torch_model.build(net)


def test_reorg3d_reverse_without_whole_groups_is_not_built():
    """reverse=1 runs the fork's index map over c/s^2 output channels in groups of c/s^4: with fewer than
    s^4 channels it divides by zero (SIGFPE in the fork's forward); counted, not built."""
    pytest.importorskip("torch")
    from darkbench import torch_model
    text = HEAD + "\n[reorg3d]\nstride=2\nreverse=1\n"  # 8 channels: 2 after, in groups of 8 / 16 = 0
    net = network.analyse("r.cfg", text=text, dialect="alexeyab")
    assert net.layers[1].out_shape == (2, 32, 32)
    with pytest.raises(DarkbenchError, match=r"^r.cfg:13 layer 1: \[reorg3d\] stride=2 reverse=1 .* not a permutation"):
        torch_model.build(net)


# -- [conv_lstm]: one time step from a zero state, against the fork's forward -------------------------------

LSTM_HEAD = "[net]\nwidth=12\nheight=10\nchannels=4\n"
LSTM = {
    "plain": "[conv_lstm]\noutput=6\nsize=3\npad=1\nactivation=leaky\n\n"
             "[conv_lstm]\nbatch_normalize=1\noutput=4\nsize=3\npad=1\ngroups=2\nlstm_activation=logistic\n",
    "peephole": "[conv_lstm]\noutput=6\nsize=3\npad=1\npeephole=1\nactivation=leaky\n\n"
                "[conv_lstm]\nbatch_normalize=1\noutput=6\nsize=1\npeephole=1\nshortcut=1\n\n"
                "[conv_lstm]\noutput=4\nsize=5\npadding=2\npeephole=1\nactivation=mish\nlstm_activation=relu\n",
}


@pytest.mark.parametrize("name", LSTM)
def test_conv_lstm_matches_the_fork(alexeyab_fork, name, tmp_path):
    """Weights from `darkbench weights init` (batch norm with positive variances), the same input: every
    layer's output agrees with the fork's to float rounding. lstm_activation=logistic/relu: the fork's CPU
    forward uses tanh all the same."""
    _matches_the_fork(alexeyab_fork, tmp_path, name, LSTM_HEAD + "\n" + LSTM[name], seeds=(5, 2))


def _matches_the_fork(fork, tmp_path, name, text, seeds):
    """Every layer's output, one step from a zero state, against the fork's forward with the same weights."""
    torch = pytest.importorskip("torch")
    from darkbench import torch_model, weights
    cfg = tmp_path / f"{name}.cfg"
    cfg.write_text(text)
    net = analyse(cfg)
    assert net.dialect == "alexeyab"
    w = tmp_path / "w.weights"
    weights.write(w, net, weights.random_arrays(net, seeds[0]), for_loading=True)
    model = torch_model.build(net)
    model.load_weights(str(w))
    x = np.random.default_rng(seeds[1]).uniform(0, 1, net.inputs).astype("<f4")
    want = fork_forward(fork, cfg, w, x, tmp_path)
    with torch.no_grad():
        got = model.layer_outputs(torch.from_numpy(x).reshape(1, *model.input_shape))
    assert len(got) == len(want)
    for l, a, b in zip(net.layers, want, got):
        b = b.reshape(-1).numpy()
        assert a.shape == b.shape and np.abs(a).max() > 0, l.index
        assert np.abs(a - b).max() <= 1e-5 * max(1.0, np.abs(a).max()), f"layer {l.index} [{l.type}]"


@pytest.mark.parametrize("extra,net_extra,says", [
    ("stride=2\n", "", "an output size other than its input's"),
    ("", "time_steps=2\n", "time_steps=2: the fork runs the batch as a sequence"),
    ("bottleneck=1\n", "", "bottleneck=1"),
    ("dilation=2\n", "", "dilation=2"),
])
def test_conv_lstm_refusals(extra, net_extra, says):
    pytest.importorskip("torch")
    from darkbench import torch_model
    text = LSTM_HEAD.replace("[net]\n", "[net]\n" + net_extra) + "\n[conv_lstm]\noutput=4\nsize=3\npad=1\n" + extra
    net = network.analyse("l.cfg", text=text, dialect="alexeyab")
    with pytest.raises(DarkbenchError) as e:
        torch_model.build(net)
    assert str(e.value).startswith(f"l.cfg:{net.layers[0].line} layer 0: [conv_lstm] {says}")
    assert str(e.value).endswith(": counted, not built in PyTorch")


# -- [crnn] in the fork's dialect: one time step from a zero state, against the fork's forward ---------------

CRNN = {
    "plain": "[crnn]\noutput=6\nhidden=5\nsize=3\npad=1\nactivation=leaky\n",
    "bn_groups_shortcut": "[crnn]\noutput=6\nhidden=4\nsize=3\npad=1\ngroups=2\nbatch_normalize=1\nshortcut=1\n\n"
                          "[crnn]\noutput=4\nhidden=6\nsize=1\nactivation=mish\n",
}


@pytest.mark.parametrize("name", CRNN)
def test_crnn_matches_the_fork(alexeyab_fork, name, tmp_path):
    _matches_the_fork(alexeyab_fork, tmp_path, name, LSTM_HEAD + "\n" + CRNN[name], seeds=(7, 4))


@pytest.mark.parametrize("extra,net_extra,says", [
    ("", "time_steps=3\n", "time_steps=3: the fork carries the state"),
    ("dilation=2\n", "", "dilation=2"),
    ("xnor=1\n", "", "xnor=1"),
])
def test_crnn_refusals(extra, net_extra, says):
    pytest.importorskip("torch")
    from darkbench import torch_model
    text = (LSTM_HEAD.replace("[net]\n", "[net]\n" + net_extra)
            + "\n[crnn]\noutput=4\nhidden=4\nsize=3\npad=1\n" + extra)
    net = network.analyse("c.cfg", text=text, dialect="alexeyab")
    with pytest.raises(DarkbenchError) as e:
        torch_model.build(net)
    assert str(e.value).startswith(f"c.cfg:{net.layers[0].line} layer 0: [crnn] {says}")
    assert str(e.value).endswith(": counted, not built in PyTorch")


def test_conv_lstm_bottleneck_aborts_in_the_forks_forward(alexeyab_fork, tmp_path):
    """Why bottleneck=1 is refused: the fork's CPU forward asserts its state convolutions read `output`
    channels, and wf reads 2*output there."""
    from darkbench import weights
    cfg = tmp_path / "b.cfg"
    cfg.write_text("[net]\nwidth=6\nheight=5\nchannels=4\n\n[conv_lstm]\noutput=4\nsize=3\npad=1\nbottleneck=1\n")
    net = analyse(cfg)
    w = tmp_path / "w.weights"
    weights.write(w, net, weights.random_arrays(net, 1), for_loading=True)
    with pytest.raises(AssertionError, match=r"forward_conv_lstm_layer: Assertion `wf\.c == l\.out_c"):
        fork_forward(alexeyab_fork, cfg, w, np.zeros(net.inputs, "<f4"), tmp_path)
