"""darkbench reads a cfg no more loosely than darknet does, each value checked against the real darknet:
lines end at '\\n' only, only ' ' and '\\t' are stripped, numbers are ASCII as atoi/atof read them; unknown
options warn in every command; sizes use C division; weights are read as darknet's loader reads them."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import darkbench
from darkbench import cfg as cfgmod
from darkbench import weights
from darkbench.cli import main
from darkbench.errors import DarkbenchError
from require import require_module

NET = "[net]\nwidth=8\nheight=8\nchannels=3\n"
ROOT = Path(__file__).resolve().parent.parent
DOG = Path("/usr/share/darknet/data/dog.jpg")


def _cfg(tmp_path, text, name="s.cfg"):
    p = tmp_path / name
    p.write_bytes(text.encode() if isinstance(text, str) else text)
    return p


def _ops_error(tmp_path, capsys, path):
    """darkbench ops on path: exit status and its single error line."""
    rc = main(["ops", str(path)])
    err = [l for l in capsys.readouterr().err.splitlines() if not l.startswith("warning:")]
    assert len(err) == 1, err
    return rc, err[0]


def _ours(path):
    return darkbench.analyse(path).ops


# --- 1. the cfg reader: darknet's fgetl/strip/atoi, nothing looser -------------------------------------

# filters=VALUE in a 1x1 conv over 8x8x3: darknet's ops are 384 * what atoi reads from VALUE
REFUSED = [
    ("underscore", "1_6", 1),                # Python's int() takes 1_6 for 16
    ("arabic_indic_digit", "\u0664", 0),     # and any Unicode digit
    ("nbsp_inside", "1\u00a06", 1),          # str.split() strips NBSP; darknet's strip does not
    ("form_feed_line", "4\x0csize=3", 4),    # str.splitlines() ends a line at \f ...
    ("vertical_tab", "4\x0bsize=3", 4),      # ... \v ...
    ("line_separator", "4\u2028size=3", 4),  # ... U+2028 ...
    ("next_line", "4\u0085size=3", 4),       # ... U+0085 ...
    ("lone_cr", "4\rsize=3", 4),             # ... and a lone \r: darknet's lines end at \n only
    ("trailing_junk", "4x", 4),
    ("hex_int", "0x10", 0),                  # atoi is base 10
    ("out_of_int_range", "4294967312", 16),  # atoi wraps to a 32-bit int
]


@pytest.mark.darknet
@pytest.mark.parametrize("name,value,darknet_reads", REFUSED, ids=[c[0] for c in REFUSED])
def test_values_darknet_reads_differently_are_refused(darknet, tmp_path, capsys, name, value, darknet_reads):
    p = _cfg(tmp_path, NET + f"[convolutional]\nfilters={value}\n")
    assert darknet.ops(p) == 384 * darknet_reads
    rc, err = _ops_error(tmp_path, capsys, p)
    assert rc != 0
    assert f"{p}:6 layer 0: [convolutional] filters=" in err
    assert ("out of range" if name == "out_of_int_range" else "not an integer") in err
    assert "\n" not in err


ACCEPTED = [
    ("spaces_and_tabs", " fil ters \t= 1 6 ", 16),
    ("plus_sign", "+8", 8),
    ("crlf", "16\r", 16),                     # accepted as CRLF (atoi stops at \r anyway)
    ("leading_c_space", "\x0c16", 16),        # atoi skips isspace() first
]


@pytest.mark.darknet
@pytest.mark.parametrize("name,line,n", ACCEPTED, ids=[c[0] for c in ACCEPTED])
def test_values_read_as_darknet_reads_them(darknet, tmp_path, name, line, n):
    if not line.lstrip().startswith("fil"):
        line = f"filters={line}"
    p = _cfg(tmp_path, NET + f"[convolutional]\n{line}\n")
    assert darknet.ops(p) == _ours(p) == 384 * n


@pytest.mark.darknet
def test_only_newline_ends_a_line(darknet, tmp_path, capsys):
    """A \\f or U+2028 in a comment does not start a new line: what follows is comment, and line numbers
    are darknet's."""
    text = NET + "# note\x0cfilters=16\n[convolutional]\n# \u2028 x\nfilters=2\n"
    p = _cfg(tmp_path, text)
    assert darknet.ops(p) == _ours(p) == 384 * 2
    rc, err = _ops_error(tmp_path, capsys, _cfg(tmp_path, text + "size=3_\n"))
    assert rc != 0 and f"{p}:9 layer 0: [convolutional] size='3_'" in err


@pytest.mark.darknet
def test_nbsp_in_a_key_is_an_unknown_option(darknet, tmp_path, capsys):
    p = _cfg(tmp_path, NET + "[convolutional]\nfil\u00a0ters=16\n")
    assert darknet.ops(p) == 384  # darknet: "Unused field", filters=1
    assert main(["ops", str(p)]) == 0
    out = capsys.readouterr()
    assert "Floating Point Operations: 384\n" in out.out
    assert f"{p}:6: layer 0 [convolutional] unknown option 'fil\u00a0ters'" in out.err


@pytest.mark.parametrize("text,value", [("0.5", 0.5), (".5", 0.5), ("5.", 5.0), ("-1e-3", -0.001), ("+2E2", 200.0),
                                        ("0x1.8p1", 3.0), ("\x0c1", 1.0)])
def test_floats_as_atof_reads_them(text, value):
    assert cfgmod.parse_float(text) == value


@pytest.mark.parametrize("text,words", [("1_0", "not a number"), ("\u0661", "not a number"), ("1e", "not a number"),
                                        ("0.5\x0c", "not a number"), ("nan", "not a finite number"),
                                        ("-Infinity", "not a finite number"), ("1e999", "not a finite number")])
def test_bad_floats_refused(tmp_path, text, words):
    p = _cfg(tmp_path, NET + f"[dropout]\nprobability={text}\n")
    with pytest.raises(DarkbenchError) as e:
        darkbench.analyse(p)
    assert f"{p}:6 layer 0: [dropout] probability=" in str(e.value) and words in str(e.value)


def test_list_items_are_checked_one_by_one(tmp_path):
    p = _cfg(tmp_path, NET + "[convolutional]\nfilters=2\n[route]\nlayers=-1,\u0030_0\n")
    with pytest.raises(DarkbenchError, match=r"s.cfg:8 layer 1: \[route\] layers='-1,0_0': '0_0' is not an integer"):
        darkbench.analyse(p)


# --- 4. the size limit holds for files without a size ---------------------------------------------------

def _cli(*args, stdin=None):
    return subprocess.run([sys.executable, "-m", "darkbench", *args], input=stdin, capture_output=True,
                          cwd=ROOT, timeout=120)


def test_dev_zero_is_refused_at_the_limit(tmp_path, capsys):
    rc, err = _ops_error(tmp_path, capsys, "/dev/zero")
    assert rc != 0 and f"/dev/zero: more than {cfgmod.MAX_CFG_BYTES} bytes; not a cfg file" in err


def test_pipes_are_read_up_to_the_limit():
    r = _cli("ops", "/dev/stdin", stdin=b"#" * (cfgmod.MAX_CFG_BYTES + 10))
    assert r.returncode == 1 and b"more than 16777216 bytes" in r.stderr
    r = _cli("ops", "/dev/stdin", stdin=(NET + "[convolutional]\nfilters=2\n").encode())
    assert r.returncode == 0 and b"Floating Point Operations: 768\n" in r.stdout


# --- 3. unknown options warn once in every command that reads a cfg ---------------------------------------

TYPO = NET + "[convolutional]\nfilter=16\n[avgpool]\n[softmax]\n"


def _warnings(err):
    return [l for l in err.splitlines() if l.startswith("warning:")]


@pytest.fixture
def typo(tmp_path):
    return _cfg(tmp_path, TYPO, "typo.cfg")


COMMANDS = {
    "ops": lambda c, d: ["ops", c],
    "ops_json": lambda c, d: ["ops", "--json", c, c],
    "summary": lambda c, d: ["summary", c],
    "compare": lambda c, d: ["compare", "--format", "json", c],
    "weights_init": lambda c, d: ["weights", "init", c, str(d / "t.weights")],
    "export": lambda c, d: ["export", c, "-o", str(d / "t.onnx")],
    "crosscheck": lambda c, d: ["crosscheck", "--format", "json", c],
}


@pytest.mark.parametrize("command", list(COMMANDS))
def test_every_command_warns_once(typo, tmp_path, capsys, command):
    if command == "export":
        require_module("onnx")
    assert main(COMMANDS[command](str(typo), tmp_path)) == 0
    out = capsys.readouterr()
    assert _warnings(out.err) == [f"warning: {typo}:6: layer 0 [convolutional] unknown option 'filter' "
                                  "(darknet ignores it)"]
    assert "warning" not in out.out
    if command in ("ops_json", "compare", "crosscheck"):
        json.loads(out.out)  # stdout stays JSON


def test_weights_info_and_classify_warn(typo, tmp_path, capsys):
    w = str(tmp_path / "t.weights")
    assert main(["weights", "init", str(typo), w]) == 0
    assert len(_warnings(capsys.readouterr().err)) == 1
    assert main(["weights", "info", str(typo), w]) == 0
    assert len(_warnings(capsys.readouterr().err)) == 1
    if DOG.exists():
        assert main(["classify", str(typo), w, str(DOG), "--top", "1"]) == 0
        assert len(_warnings(capsys.readouterr().err)) == 1


def test_bench_warns(typo, tmp_path, capsys):
    assert main(["bench", str(typo), "--backend", "eager", "--device", "cpu", "--min-time", "0", "--max-time",
                 "0.05", "--out", "", "--threads", "1", "--no-spin", "--json"]) == 0
    out = capsys.readouterr()
    assert len(_warnings(out.err)) == 1 and json.loads(out.out)[0]["backend"] == "eager"


def test_library_calls_stay_quiet(typo, capsys):
    assert darkbench.analyse(typo).warnings and darkbench.load(typo) is not None
    assert capsys.readouterr().err == ""


# --- 5. [net] inputs= without an image: a flat input, built and run as darknet runs it ----------------

FLAT = "[net]\ninputs=12\n[softmax]\ngroups=3\n[connected]\noutput=6\nbatch_normalize=1\nactivation=leaky\n" \
       "[logistic]\n[l2norm]\n[connected]\noutput=3\nactivation=linear\n"


@pytest.mark.darknet
def test_flat_input_matches_darknet(darknet, tmp_path):
    import torch
    p = _cfg(tmp_path, FLAT, "flat.cfg")
    model = darkbench.load(p)
    assert model.input_shape == (12,)
    x = torch.rand(1, 12, generator=torch.Generator().manual_seed(1))
    w = tmp_path / "flat.weights"
    theirs = darknet.forward(p, w, x[0].numpy(), seed=3)
    model = darkbench.load(p, w)
    with torch.no_grad():
        ours = model.layer_outputs(x)
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        a = a.flatten().numpy()
        assert a.size == b.size and np.linalg.norm(a - b) <= 1e-4 * np.linalg.norm(b)


def test_flat_input_crosscheck_export_and_classify(tmp_path, capsys):
    p = _cfg(tmp_path, "[net]\ninputs=100\n[connected]\noutput=10\n[connected]\noutput=3\n", "cf.cfg")
    assert main(["crosscheck", "--format", "json", str(p)]) == 0
    assert json.loads(capsys.readouterr().out)["total"]["macs"] == 1030
    if DOG.exists():
        w = str(tmp_path / "cf.weights")
        assert main(["weights", "init", str(p), w]) == 0
        assert main(["classify", str(p), w, str(DOG)]) == 2
        err = capsys.readouterr().err.strip()
        assert err.endswith("cf.cfg: the network has no image input ([net] gives inputs=100, not width, height "
                            "and channels): nothing to classify an image with") and "\n" not in err
    with pytest.raises(DarkbenchError, match=r"input of shape \(1, 99\); expected \(N, 100\) \(N, inputs\)"):
        darkbench.load(p)(__import__("torch").zeros(1, 99))


def test_flat_input_exports_to_onnx(tmp_path, capsys):
    ort = require_module("onnxruntime")
    import torch
    p = _cfg(tmp_path, "[net]\ninputs=100\n[connected]\noutput=10\n[connected]\noutput=3\n", "cf.cfg")
    w = tmp_path / "cf.weights"
    assert main(["weights", "init", str(p), str(w)]) == 0
    assert main(["export", str(p), str(w), "-o", str(tmp_path / "cf.onnx")]) == 0
    x = torch.rand(1, 100)
    sess = ort.InferenceSession(str(tmp_path / "cf.onnx"), providers=["CPUExecutionProvider"])
    assert sess.get_inputs()[0].shape == [1, 100]
    with torch.no_grad():
        assert np.allclose(sess.run(None, {"input": x.numpy()})[0], darkbench.load(p, w)(x).numpy(), atol=1e-6)


# --- 6. output sizes by C division: a window hanging over the input reads zeros (maxpool: -inf) ----------

TRUNCATED = [  # darknet ops; layers whose size C division gives where Python's floor division gave 0
    ("conv_5x5_s2_on_4x4", "[net]\nwidth=4\nheight=4\nchannels=3\n[convolutional]\nfilters=2\nsize=5\nstride=2\n", 300),
    ("conv_padded_7x7_s3", "[net]\nwidth=5\nheight=4\nchannels=3\n[convolutional]\nfilters=2\nsize=7\nstride=3\n"
                           "padding=1\nbatch_normalize=1\nactivation=leaky\n", 588),
    ("maxpool_6_s3", "[net]\nwidth=4\nheight=4\nchannels=3\n[maxpool]\nsize=6\nstride=3\npadding=0\n"
                     "[convolutional]\nfilters=2\n", 12),
    ("maxpool_7_s4_pad2", "[net]\nwidth=4\nheight=5\nchannels=3\n[maxpool]\nsize=7\nstride=4\npadding=2\n"
                          "[convolutional]\nfilters=2\n", 12),
    ("local_5_s2", "[net]\nwidth=4\nheight=4\nchannels=3\n[local]\nfilters=2\nsize=5\nstride=2\n"
                   "[convolutional]\nfilters=3\n", 12),
    ("conv_then_local", "[net]\nwidth=4\nheight=5\nchannels=3\n[convolutional]\nfilters=3\nsize=5\nstride=3\n"
                        "[local]\nfilters=2\nsize=2\nstride=2\n", 2 * 3 * 25 * 3),
]


@pytest.mark.darknet
@pytest.mark.parametrize("name,text,ops", TRUNCATED, ids=[c[0] for c in TRUNCATED])
def test_c_division_sizes_match_darknet(darknet, tmp_path, name, text, ops):
    import torch
    p = _cfg(tmp_path, text, f"{name}.cfg")
    net = darkbench.analyse(p)
    assert darknet.ops(p) == net.ops == ops
    assert [(s["c"], s["h"], s["w"]) for s in darknet.shapes(p)] == [l.out_shape for l in net.layers]
    x = torch.rand(1, net.channels, net.height, net.width, generator=torch.Generator().manual_seed(1))
    w = tmp_path / "t.weights"
    theirs = darknet.forward(p, w, x[0].numpy(), seed=5)
    model = darkbench.load(p, w)
    with torch.no_grad():
        for a, b in zip(model.layer_outputs(x), theirs):
            a = a.flatten().numpy()
            assert a.size == b.size and np.linalg.norm(a - b) <= 1e-4 * np.linalg.norm(b)


@pytest.mark.darknet
@pytest.mark.parametrize("layer,size,words", [
    ("[convolutional]\nfilters=2\nsize=5\nstride=1\n", 0, "kernel 5x5 with padding 0 is larger than its 4x4 input"),
    ("[maxpool]\nsize=7\nstride=2\npadding=0\n", 0, "window 7x7 with padding 0 is larger than its 4x4 input"),
    ("[local]\nsize=6\nstride=1\n", -1, "kernel 6x6 is larger than its 4x4 input"),
])
def test_empty_outputs_are_refused(darknet, tmp_path, capsys, layer, size, words):
    """Where darknet's own output is empty, darkbench refuses and says so."""
    p = _cfg(tmp_path, "[net]\nwidth=4\nheight=4\nchannels=3\n" + layer)
    assert [(s["h"], s["w"]) for s in darknet.shapes(p)] == [(size, size)] and darknet.ops(p) == 0
    rc, err = _ops_error(tmp_path, capsys, p)
    assert rc != 0 and f"{p}:5 layer 0:" in err
    assert f"{words} (darknet's output would be {size}x{size}, empty)" in err


def test_crop_larger_than_input_says_why():
    net = darkbench.analyse("c.cfg", text="[net]\nwidth=4\nheight=4\nchannels=3\n[crop]\ncrop_width=6\ncrop_height=6\n")
    assert any("darknet would read outside its input: its result would be garbage" in w for w in net.warnings)


# --- 2. dontload / dontloadscales / numload / dontsave: read as darknet's loader reads ------------------

LOADS = "[net]\nwidth=5\nheight=5\nchannels=3\n" + (
    "[convolutional]\nfilters=3\nsize=3\nbatch_normalize=1\nactivation=leaky\ndontloadscales=1\n"  # 0: no BN read
    "[convolutional]\nfilters=2\nsize=1\nbatch_normalize=1\nactivation=linear\ndontsave=1\n"      # 1: still read
    "[batchnorm]\ndontload=1\n"                       # 2: skipped: scales 1, mean 0, variance 0 (x 1e6)
    "[batchnorm]\ndontloadscales=1\n"                 # 3: read anyway (only conv/connected honour it)
    "[convolutional]\nfilters=4\nsize=1\nnumload=4\n"  # 4: numload = filters: all read
    "[connected]\noutput=4\nbatch_normalize=1\nactivation=linear\ndontloadscales=1\nnumload=2\n")  # 5


@pytest.mark.darknet
def test_weights_read_as_darknets_loader(darknet, tmp_path, capsys):
    import torch
    p = _cfg(tmp_path, LOADS, "loads.cfg")
    w = tmp_path / "l.weights"
    assert main(["weights", "init", str(p), str(w), "--seed", "2"]) == 0
    net = darkbench.analyse(p)
    assert capsys.readouterr().err.strip() == ("note: laid out as darknet's loader reads it (dontsave/dontload/"
                                               f"dontloadscales); darknet's save would write {net.weight_floats} floats")
    # darknet's save less dontsave layer 1, its loader reads it and skips BN of 0 and 5, and all of 2
    assert weights.expected_floats(net) == net.weight_floats + 14 - 9 - 6 - 12
    assert w.stat().st_size == 20 + 4 * weights.expected_floats(net)
    x = torch.rand(1, 3, 5, 5, generator=torch.Generator().manual_seed(1))
    theirs = darknet.forward(p, w, x[0].numpy())
    model = darkbench.load(p, w)
    with torch.no_grad():
        ours = model.layer_outputs(x)
    assert np.abs(theirs[2]).max() > 1e4  # dontload batchnorm: variance 0
    for a, b in zip(ours, theirs):
        a = a.flatten().numpy()
        assert a.size == b.size and np.linalg.norm(a - b) <= 1e-4 * np.linalg.norm(b)


def test_file_darknet_saves_for_dontsave_is_refused(tmp_path):
    p = _cfg(tmp_path, NET + "[convolutional]\nfilters=2\ndontsave=1\n[convolutional]\nfilters=2\n")
    net = darkbench.analyse(p)
    w = tmp_path / "s.weights"
    weights.write(w, net, weights.random_arrays(net))  # darknet's save layout: layer 0 left out
    with pytest.raises(DarkbenchError, match="it is the size darknet saves, but darknet's loader reads dontsave=1"):
        darkbench.load(p, w)


@pytest.mark.parametrize("opts,words", [
    ("dontload=1", "dontload=1: darknet skips this layer when reading weights and keeps the random weights"),
    ("numload=2", "numload=2: darknet reads only the first 2 of 4 filters and keeps random weights for the rest"),
    ("numload=5", "numload=5 with 4 filters: darknet would read outside its buffers (its result would be garbage)"),
    ("numload=-1", "numload=-1 with 4 filters"),
])
def test_unreproducible_load_options_are_refused_when_loading(tmp_path, capsys, opts, words):
    p = _cfg(tmp_path, NET + f"[convolutional]\nfilters=4\n{opts}\n")
    assert main(["ops", str(p)]) == 0  # analysis works
    w = tmp_path / "x.weights"
    assert main(["weights", "init", str(p), str(w)]) == 0
    capsys.readouterr()
    for argv in (["weights", "info", str(p), str(w)], ["export", str(p), str(w), "-o", str(tmp_path / "x.onnx")]):
        assert main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert f"{p}:5 layer 0: [convolutional] {words}" in err and "\n" not in err
