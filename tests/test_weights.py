"""Reading and writing darknet .weights: header variants, strict sizes, nothing changed on failure."""
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

import darkbench
from darkbench import weights
from darkbench.cli import main
from darkbench.errors import DarkbenchError

CFG = "[net]\nwidth=8\nheight=8\nchannels=2\n[convolutional]\nfilters=3\nsize=3\npad=1\nbatch_normalize=1\n" \
      "activation=leaky\n[connected]\noutput=4\nactivation=linear\n"


@pytest.fixture
def cfg(tmp_path):
    p = tmp_path / "n.cfg"
    p.write_text(CFG)
    return p


def test_round_trip_is_byte_identical(cfg, tmp_path):
    net = darkbench.analyse(cfg)
    a = tmp_path / "a.weights"
    weights.write(a, net, weights.random_arrays(net, 5))
    # 3 biases + 9 BN + 3*2*3*3 kernel + 4 biases + 4*(3*8*8) connected = 18 + 9 + 4 + 768 + 3 = ...
    assert a.stat().st_size == 20 + 4 * (3 + 9 + 54 + 4 + 768)
    m = darkbench.load(cfg, a)
    m.save_weights(tmp_path / "b.weights")
    assert (tmp_path / "b.weights").read_bytes() == a.read_bytes()


def _header(major, minor, revision, seen, wide):
    return struct.pack("<3i", major, minor, revision) + struct.pack("<Q" if wide else "<I", seen)


@pytest.mark.parametrize("major,minor,wide", [(0, 1, False), (0, 2, True), (1, 0, True)])
def test_header_variants(cfg, tmp_path, major, minor, wide):
    net = darkbench.analyse(cfg)
    arrays = weights.random_arrays(net, 1)
    ref = tmp_path / "ref.weights"
    weights.write(ref, net, arrays)
    body = ref.read_bytes()[20:]
    p = tmp_path / "v.weights"
    p.write_bytes(_header(major, minor, 0, 1234, wide) + body)
    h = weights.read_header(p)
    assert h["header_bytes"] == (20 if wide else 16) and h["seen"] == 1234
    m = darkbench.load(cfg, p)
    assert np.allclose(m.layers[0].conv.weight.detach().numpy(), arrays[(0, "weights")])
    m.save_weights(tmp_path / "again.weights")
    assert (tmp_path / "again.weights").read_bytes() == p.read_bytes()


def test_transposed_connected_weights(cfg, tmp_path):
    net = darkbench.analyse(cfg)
    arrays = weights.random_arrays(net, 2)
    p = tmp_path / "t.weights"
    weights.write(p, net, arrays, header=dict(major=1001, minor=0))
    raw = np.fromfile(p, "<f4", offset=16)  # 4-byte seen when major > 1000
    conn = raw[3 + 9 + 54 + 4:][:768]
    assert np.array_equal(conn, arrays[(1, "weights")].T.ravel())  # stored (in, out)
    m = darkbench.load(cfg, p)
    assert np.array_equal(m.layers[1].fc.weight.detach().numpy(), arrays[(1, "weights")])


@pytest.mark.parametrize("cut,what", [(-4, "too short"), (8, "bytes left over"), (2, "stray bytes")])
def test_wrong_size_fails_and_changes_nothing(cfg, tmp_path, cut, what):
    net = darkbench.analyse(cfg)
    good = tmp_path / "good.weights"
    weights.write(good, net, weights.random_arrays(net, 3))
    data = good.read_bytes()
    bad = tmp_path / "bad.weights"
    bad.write_bytes(data[:cut] if cut < 0 else data + b"\0" * cut)
    m = darkbench.load(cfg, good)
    before = [t.clone() for t in m.state_dict().values()]
    with pytest.raises(DarkbenchError) as e:
        m.load_weights(bad)
    assert what in str(e.value) and f"expected {net.weight_floats} floats" in str(e.value)
    assert all(torch.equal(a, b) for a, b in zip(before, m.state_dict().values()))


@pytest.mark.parametrize("content,what", [(b"", "shorter than any header"), (b"hello world!!!!!!!!!!!!!", "does not fit"),
                                          (None, "no such weights file")])
def test_not_weights(cfg, tmp_path, content, what):
    p = tmp_path / "x.weights"
    if content is not None:
        p.write_bytes(content)
    with pytest.raises(DarkbenchError, match=what):
        darkbench.load(cfg, p)


def test_cli_init_and_info(cfg, tmp_path, capsys):
    out = tmp_path / "r.weights"
    assert main(["weights", "init", str(cfg), str(out), "--seed", "4"]) == 0
    assert main(["weights", "init", str(cfg), str(out)]) == 2  # refuses to overwrite
    assert "not overwriting" in capsys.readouterr().err
    assert main(["weights", "info", str(cfg), str(out)]) == 0
    assert "fits" in capsys.readouterr().out
    net = darkbench.analyse(cfg)
    var = weights.read(out, net)[1][3][2]  # conv rolling_variance
    assert (var > 0).all()
    out.write_bytes(out.read_bytes()[:-8])
    assert main(["weights", "info", str(cfg), str(out)]) == 1
    assert "too short" in capsys.readouterr().out



def test_transposed_recurrent_weights(tmp_path):
    """darknet's loader transposes the inner connected layers of rnn/gru/lstm too."""
    net = darkbench.analyse(Path(__file__).with_name("cfgs") / "recurrent.cfg")
    arrays = weights.random_arrays(net, 6)
    p = tmp_path / "r.weights"
    weights.write(p, net, arrays, header=dict(major=0, minor=1001))
    raw = np.fromfile(p, "<f4", offset=16)
    w = arrays[(0, "input_layer.weights")]  # first rnn, after its 32 biases
    assert w.shape == (32, 64) and np.array_equal(raw[32:32 + w.size], w.T.ravel())
    _, got = weights.read(p, net)
    assert all(np.array_equal(a, arrays[(l.index, name)]) for l, name, a in got)
