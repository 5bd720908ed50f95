"""Dialects (issue 14): the AlexeyAB fork's options on the existing sections, counted as the fork counts them.

The hand-written cfgs in tests/cfgs/alexeyab/ are checked against the fork itself (tests/alexeyab.py):
Total BFLOPS as printed, per-layer BF, the weights file's size, every layer's output shape. The 2018 zoo is
unchanged in the pjreddie dialect; bad inputs are one line naming the place."""
import json
import os
import struct
from pathlib import Path

import pytest

from darkbench import models
from darkbench.cli import main
from darkbench.errors import DarkbenchError
from require import require

HERE = Path(__file__).parent
FORK_CFGS = sorted((HERE / "cfgs" / "alexeyab").glob("*.cfg"))
ZOO_2018 = Path("/usr/share/darknet/cfg")


def _cfg(tmp_path, text, name="t.cfg"):
    p = tmp_path / name
    p.write_text(text)
    return p


# -- the hand-written cfgs against the fork ----------------------------------------------------------------
@pytest.mark.alexeyab
@pytest.mark.parametrize("cfg", FORK_CFGS, ids=lambda p: p.stem)
def test_fork_options_counted_as_the_fork_counts(alexeyab_fork, cfg):
    net = models.analyse(cfg)
    assert net.dialect == "alexeyab"  # each uses something only the fork reads
    ops = alexeyab_fork.ops(cfg)
    layers, saved, total = alexeyab_fork.info(cfg)
    assert f"{net.bflops:.3f}" == f"{ops.total:.3f}"
    assert net.bflops == pytest.approx(total, rel=1e-6)
    assert net.weights_bytes == saved == alexeyab_fork.weights_bytes(cfg)
    assert len(net.layers) == len(layers)
    for mine, theirs in zip(net.layers, layers):
        where = f"layer {mine.index} ({mine.type})"
        assert mine.out_shape == (theirs.out_c, theirs.out_h, theirs.out_w), where
        assert mine.outputs == theirs.outputs, where
        assert mine.bflops == pytest.approx(theirs.bflops, rel=1e-7, abs=1e-12), where
    for mine, bf in zip(net.layers, ops.bf):  # the printed per-layer BF (conv, max, shortcut lines)
        if bf is not None:
            assert f"{mine.bflops:.3f}" == f"{bf:.3f}", f"layer {mine.index}"


@pytest.mark.alexeyab
def test_fork_parse_has_no_unused_fields(alexeyab_fork):
    """Nothing in the hand-written cfgs is a key the fork ignores (so each one is exercised)."""
    for cfg in FORK_CFGS:
        net = models.analyse(cfg)
        assert not [w for w in net.warnings if "unknown option" in w], cfg
    conv = models.analyse(HERE / "cfgs/alexeyab/conv_options.cfg")
    assert [w for w in conv.warnings if "groups=3 does not divide input channels 16" in w]


def test_fork_weights_order():
    """Recurrent file order per dialect; share_index stores nothing; shortcut weights (n+1) or (n+1)*c."""
    net = models.analyse(HERE / "cfgs/alexeyab/recurrent.cfg")
    names = [n.split(".")[0] for n, _ in net.layers[4].weights if n.endswith(".weights")]
    assert names == ["wf", "wi", "wg", "wo", "uf", "ui", "ug", "uo"]
    gru = [n.split(".")[0] for n, _ in net.layers[3].weights if n.endswith(".weights")]
    assert gru == ["input_z", "input_r", "input_h", "state_z", "state_r", "state_h"]
    assert [s for n, s in net.layers[2].weights if n.endswith(".weights")] == [(5, 10), (5, 5), (7, 5)]
    text = (HERE / "cfgs/alexeyab/recurrent.cfg").read_text().replace("swish", "leaky")
    old = models.analyse("recurrent.cfg", text=text, dialect="pjreddie")
    assert [n.split(".")[0] for n, _ in old.layers[4].weights if n.endswith(".weights")] == \
        ["wi", "wf", "wo", "wg", "ui", "uf", "uo", "ug"]
    conv = models.analyse(HERE / "cfgs/alexeyab/conv_options.cfg")
    assert conv.layers[5].weights == [] and conv.layers[6].weights == []
    pools = models.analyse(HERE / "cfgs/alexeyab/pool_route_shortcut.cfg")
    assert pools.layers[7].weights == [("weights", (2, 4))] and pools.layers[8].weights == [("weights", (3,))]


# -- the dialect: chosen, shown, followed ---------------------------------------------------------------------
PLAIN = """[net]
width=32
height=32
channels=3

[convolutional]
filters=8
size=3
stride=2
pad=1
activation=leaky

[shortcut]
from=-1
alpha=1
"""


@pytest.mark.parametrize("extra, dialect", [
    ("", "pjreddie"),
    ("\n[maxpool]\nsize=2\nstride_x=2\nstride_y=1\n", "alexeyab"),
    ("\n[convolutional]\nfilters=8\nactivation=mish\n", "alexeyab"),
    ("\n[route]\nlayers=-1\ngroups=2\n", "alexeyab"),
    ("\n[deconvolutional]\nfilters=8\n", "pjreddie"),
])
def test_auto_picks_the_dialect_from_the_cfg(tmp_path, extra, dialect):
    assert models.analyse(_cfg(tmp_path, PLAIN + extra)).dialect == dialect


@pytest.mark.parametrize("header, dialect", [((0, 2, 5), "alexeyab"), ((0, 2, 0), "pjreddie"), ((0, 1, 0), "pjreddie")])
def test_auto_follows_the_weights_header(tmp_path, capsys, header, dialect):
    cfg = _cfg(tmp_path, PLAIN)
    net = models.analyse(cfg, dialect="pjreddie")
    body = net.weight_floats * 4
    w = tmp_path / "w.weights"
    size = 8 if header[0] * 10 + header[1] >= 2 else 4
    w.write_bytes(struct.pack("<3i", *header) + bytes(size) + bytes(body))
    assert models.analyse(cfg, weights=w).dialect == dialect
    assert models.analyse(cfg, weights=w, dialect="pjreddie").dialect == "pjreddie"  # explicit wins
    assert main(["weights", "info", str(cfg), str(w)]) == 0
    assert f"read in the {dialect} dialect" in capsys.readouterr().out


def test_weights_init_in_the_fork_dialect_writes_the_forks_header(tmp_path):
    cfg = _cfg(tmp_path, PLAIN + "\n[maxpool]\nsize=2\nstride_x=2\n")
    out = tmp_path / "w.weights"
    assert main(["weights", "init", str(cfg), str(out)]) == 0
    assert struct.unpack("<3i", out.read_bytes()[:12]) == (0, 2, 5)


def test_unknown_option_warned_only_in_the_dialect_that_ignores_it(tmp_path):
    cfg = _cfg(tmp_path, PLAIN.replace("channels=3", "channels=3\nmosaic=1"))
    old = models.analyse(cfg, dialect="pjreddie").warnings
    new = models.analyse(cfg, dialect="alexeyab").warnings
    assert [w for w in old if "'mosaic'" in w] and not [w for w in new if "'mosaic'" in w]
    assert [w for w in new if "'alpha'" in w and "AlexeyAB fork ignores it" in w]
    assert not [w for w in old if "'alpha'" in w]
    cfg = _cfg(tmp_path, PLAIN + "\n[maxpool]\nsize=2\nstride_x=2\n", "s.cfg")
    assert [w for w in models.analyse(cfg, dialect="pjreddie").warnings if "'stride_x'" in w]
    assert not [w for w in models.analyse(cfg).warnings if "'stride_x'" in w]


def test_every_output_states_the_dialect(tmp_path, capsys):
    cfg = str(HERE / "cfgs/alexeyab/conv_options.cfg")
    assert main(["ops", cfg]) == 0
    out = capsys.readouterr().out
    assert "Total BFLOPS 0.017 (the AlexeyAB fork's count; read in the alexeyab dialect)" in out
    assert main(["ops", "--json", cfg]) == 0
    row = json.loads(capsys.readouterr().out)[0]
    assert row["dialect"] == "alexeyab" and f"{row['bflops']:.3f}" == "0.017"
    assert isinstance(row["bflops"], float)
    assert main(["summary", cfg]) == 0
    out = capsys.readouterr().out
    assert "BF (fork)" in out and "read in the alexeyab dialect" in out
    assert main(["summary", "--format", "json", cfg]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["dialect"] == "alexeyab" and [r["bf"] for r in data["layers"]][2] == pytest.approx(0.007077888)
    assert main(["compare", "--format", "json", cfg, "--dialect", "alexeyab"]) == 0
    row = json.loads(capsys.readouterr().out)[0]
    assert row["dialect"] == "alexeyab" and "bflops" in row and "ops_bn" in row


@pytest.mark.parametrize("command", ["ops", "summary", "compare", "crosscheck", "export", "bench", "classify",
                                     "nightmare", "report", "weights init", "weights info"])
def test_every_cfg_command_takes_dialect(command, capsys):
    with pytest.raises(SystemExit):
        main(command.split() + ["--help"])
    assert "--dialect {auto,pjreddie,alexeyab}" in capsys.readouterr().out


# -- the 2018 zoo and the cfgs the fork itself crashes on ---------------------------------------------------
def test_2018_zoo_reads_as_2018_darknet(capsys):
    """auto picks pjreddie for every cfg of 2018 darknet's zoo and counts exactly as --dialect pjreddie (which
    test_analytic_parity checks against `darknet ops` and darknet's saved files)."""
    if not ZOO_2018.is_dir():
        require(f"darknet's zoo ({ZOO_2018}) is not installed (apt-get install darknet)")
    cfgs = sorted(str(p) for p in ZOO_2018.glob("*.cfg"))
    out = {}
    for dialect in ("auto", "pjreddie"):
        main(["ops", "--json", "--dialect", dialect] + cfgs)
        out[dialect] = json.loads(capsys.readouterr().out)
        assert {r["dialect"] for r in out[dialect]} == {"pjreddie"} and len(out[dialect]) == 45
    assert out["auto"] == out["pjreddie"]


@pytest.mark.parametrize("name, words", [
    ("resnet50", "layer 17: .shortcut. layer 13 is 64x64 and the previous layer 32x32: the AlexeyAB fork needs"),
    ("rnn", "divides by zero"),
    ("gru", "divides by zero"),
])
def test_cfgs_the_fork_crashes_on(name, words):
    path = ZOO_2018 / f"{name}.cfg"
    if not path.exists():
        require(f"darknet's zoo cfg {path} is not installed (apt-get install darknet)")
    assert models.analyse(path).dialect == "pjreddie"
    with pytest.raises(DarkbenchError, match=words) as e:
        models.analyse(path, dialect="alexeyab")
    assert str(path) in str(e.value) and "\n" not in str(e.value)


# -- bad input: one line naming the place ----------------------------------------------------------------------
BAD = [
    ("[route]\nlayers=-1\ngroups=3\n", ":15", "groups=3 does not divide the 8 channels of layer 0"),
    ("[route]\nlayers=-1\ngroups=2\ngroup_id=2\n", ":16", "group_id=2 is out of range for groups=2"),
    ("[maxpool]\nsize=2\nstride=2\n\n[route]\nlayers=-1,-2\n", ":18", "refuses a route of unequal sizes"),
    ("[maxpool]\nsize=2\nstride=2\n\n[shortcut]\nfrom=-2\n", ":18", "needs equal widths and heights"),
    ("[shortcut]\nfrom=-1\nweights_type=per_channel\n", ":15", "with weights_normalization=none"),
    ("[shortcut]\nfrom=-1\nweights_type=per_channel\nweights_normalization=none\n", ":15",
     "'Incorrect weights_normalization = none'"),
    ("[shortcut]\nfrom=-1\nweights_type=per_pixel\nweights_normalization=relu\n", ":15", "weights_type=per_pixel"),
    ("[convolutional]\nfilters=8\nshare_index=2\n", ":15", "share_index=2 refers to layer 2, not an earlier layer"),
    ("[maxpool]\n\n[convolutional]\nfilters=8\nshare_index=-1\n", ":17", "a [maxpool], not a convolution"),
    ("[convolutional]\nfilters=4\nsize=3\nshare_index=0\n", ":16", "differ from this layer's"),
    ("[maxpool]\nmaxpool_depth=1\nout_channels=0\n", ":15", "out_channels=0 must be > 0"),
    ("[crnn]\noutput=4\nhidden=4\n", ":13", "aborts unless its convolutions keep the size"),
    ("[convolutional]\nfilters=8\nantialiasing=3\n", ":15", "antialiasing=3"),
    ("[deconvolutional]\nfilters=8\n", ":13", "unknown section [deconvolutional] in the alexeyab dialect"),
]


@pytest.mark.parametrize("text, line, words", BAD, ids=[b[2][:30] for b in BAD])
def test_bad_fork_input_is_one_line(tmp_path, capsys, text, line, words):
    cfg = _cfg(tmp_path, PLAIN.split("[shortcut]")[0] + text)
    rc = main(["ops", "--dialect", "alexeyab", str(cfg)])
    err = [l for l in capsys.readouterr().err.splitlines() if not l.startswith("warning:")]
    assert rc == 1 and len(err) == 1, err
    assert f"{cfg}{line}" in err[0] and words in err[0], err[0]


def test_partial_atoi_read_only_in_the_forks_dialect(tmp_path):
    cfg = HERE / "cfgs/alexeyab/yolo_head.cfg"
    net = models.analyse(cfg)
    assert net.layers[0].out_shape[0] == 16
    assert any("filters='16#8' read as 16" in w for w in net.warnings)
    with pytest.raises(DarkbenchError, match="is not an integer"):
        models.analyse(cfg, dialect="pjreddie")


def test_fork_activation_refused_in_pjreddie(tmp_path):
    cfg = _cfg(tmp_path, PLAIN.replace("leaky", "mish"))
    assert models.analyse(cfg).dialect == "alexeyab"
    with pytest.raises(DarkbenchError, match="unknown activation 'mish' in the pjreddie dialect"):
        models.analyse(cfg, dialect="pjreddie")


def test_xnor_counted_refused_only_when_built(tmp_path):
    cfg = _cfg(tmp_path, PLAIN.split("[shortcut]")[0] + "[convolutional]\nfilters=8\nsize=3\npad=1\nxnor=1\n")
    net = models.analyse(cfg)
    assert net.dialect == "pjreddie" and net.layers[1].bflops == pytest.approx(2 * 8 * 8 * 9 * 256 / 1e9 / 32)
    torch = pytest.importorskip("torch")  # noqa: F841
    with pytest.raises(DarkbenchError, match="xnor=1: binarised"):
        models.load(cfg)


# -- built in PyTorch: the fork's shapes ----------------------------------------------------------------------
@pytest.mark.parametrize("name", ["conv_options", "pool_route_shortcut"])
def test_fork_cfgs_build_to_their_shapes(tmp_path, name):
    torch = pytest.importorskip("torch")
    text = (HERE / f"cfgs/alexeyab/{name}.cfg").read_text()
    # drop what is counted but not built: xnor/binary/uneven-groups convolutions, crnn
    sections = text.split("\n[")
    skip = ("xnor=", "binary=", "crnn]", "groups=3")
    keep = sections[:1] + [s for s in sections[1:] if not any(k in s for k in skip)]
    cfg = _cfg(tmp_path, "\n[".join(keep))
    net = models.analyse(cfg)
    model = models.load(cfg)
    x = torch.rand(1, net.channels, net.height, net.width)
    outs = []
    h = [m.register_forward_hook(lambda m, i, o: outs.append(o)) for m in model.layers]
    with torch.no_grad():
        model(x)
    for hook in h:
        hook.remove()
    assert [tuple(o.shape[1:]) for o in outs] == [l.out_shape for l in net.layers]


# -- built in PyTorch: the fork's own forward pass ----------------------------------------------------------
def _fork_forward(fork, cfg, weights_file, x, tmp_path):
    """Every layer's l.output after the fork's network_predict (tests/harness/akforward.c)."""
    import subprocess

    import numpy as np
    from darknet import _build
    exe = _build(HERE / "harness" / "akforward.c", "", [f"-I{fork.root / 'include'}", f"-L{fork.root}", "-ldarknet",
                                                         f"-Wl,-rpath,{fork.root}", "-lm"])
    x.astype("<f4").tofile(tmp_path / "in.f32")
    r = subprocess.run([str(exe), str(cfg), str(weights_file), str(tmp_path / "in.f32"), str(tmp_path / "out.f32")],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    data, outs, pos = (tmp_path / "out.f32").read_bytes(), [], 0
    while pos < len(data):
        n, = struct.unpack("<i", data[pos:pos + 4])
        outs.append(np.frombuffer(data, "<f4", n, pos + 4))
        pos += 4 + 4 * n
    return outs


@pytest.mark.alexeyab
@pytest.mark.parametrize("name", ["forward", "forward_shortcut", "forward_share", "forward_yolo", "yolo_head",
                                  "forward_norm_channels"])
def test_fork_forward_pass(alexeyab_fork, tmp_path, name):
    """darkbench's torch build of the fork's options gives the fork's own layer outputs (fp32, CPU)."""
    torch = pytest.importorskip("torch")
    import numpy as np
    from darkbench import weights
    cfg = HERE / f"cfgs/alexeyab/{name}.cfg"
    net = models.analyse(cfg)
    w = tmp_path / "w.weights"
    weights.write(w, net, weights.random_arrays(net, 1))  # the fork's header: auto reads it in its dialect
    x = np.random.default_rng(0).uniform(0, 1, (1, net.channels, net.height, net.width)).astype("<f4")
    theirs = _fork_forward(alexeyab_fork, cfg, w, x, tmp_path)
    model = models.load(cfg, w)
    assert model.spec.dialect == "alexeyab"
    mine = []
    hooks = [m.register_forward_hook(lambda m, i, o: mine.append(o.reshape(-1).numpy())) for m in model.layers]
    with torch.no_grad():
        model(torch.from_numpy(x))
    for h in hooks:
        h.remove()
    assert len(mine) == len(theirs) == len(net.layers)
    for l, a, b in zip(net.layers, theirs, mine):
        a = a[:b.size]  # an antialiased layer's l.outputs is its stride-1 size; the blur's output comes first
        assert a.size == b.size == l.outputs, l.index
        assert np.abs(a - b).max() <= 1e-4 * max(1.0, np.abs(a).max()), f"layer {l.index} ({l.type} {l.desc})"
    with torch.no_grad():  # batch norm folded once, shared tensors included
        fused = models.load(cfg, w, fuse=True)(torch.from_numpy(x)).reshape(-1).numpy()
    a = theirs[model.heads[0]][:fused.size]
    assert np.abs(a - fused).max() <= 1e-4 * max(1.0, np.abs(a).max())


def test_channel_activation_outside_a_convolution_is_refused_naming_the_layer():
    """The fork applies normalize_channels* in its convolutions only (its other layers' activate() gives 0 for
    them): darkbench builds them there and refuses them elsewhere in one line naming the layer."""
    text = ("[net]\nwidth=8\nheight=8\nchannels=3\n[convolutional]\nfilters=3\nsize=1\nactivation=normalize_channels\n"
            "[shortcut]\nfrom=-1\nactivation=normalize_channels\n")
    net = models.analyse("n.cfg", text=text)
    assert net.dialect == "alexeyab"
    from darkbench import torch_model
    with pytest.raises(DarkbenchError) as e:
        torch_model.build(net)
    assert str(e.value).startswith("n.cfg:9 layer 1: [shortcut] activation 'normalize_channels'")
    assert "\n" not in str(e.value)
