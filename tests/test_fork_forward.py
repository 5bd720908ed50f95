"""The AlexeyAB fork's zoo networks built in PyTorch against the fork's own forward pass (issue 15).

Per network: darkbench writes random weights in the fork's layout (batch-norm statistics, scales and biases
away from their defaults, variances down to 1e-4 so the fork's sqrt(var + .00001) differs from 2018's
sqrt(var) + .000001 by up to 5%); the fork loads them, saves them again (byte for byte ours: it reads and
writes our layout) and runs network_predict (tests/harness/akforward.c); `darkbench.load(cfg, that file,
dialect="alexeyab")` must give every layer's output within relative L2 1e-4, and the folded model
(fuse=True) its heads. `python tests/test_fork_forward.py [NAME ... | NAME:SIZE ...]` prints the per-network figures."""
import sys
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

from darknet import rewrite_net  # noqa: E402

TOL = 1e-4
# (zoo cfg, input size): small inputs keep the fork's plain-C forward pass short
NETS = [("yolov4-tiny", 160), ("yolov4", 160), ("yolov7-tiny", 160), ("yolov4-csp", 160),
        ("yolov4-csp-swish", 160), ("yolov3-tiny-prn", 160), ("enet-coco", 160), ("efficientnet_b0", 160),
        ("csdarknet53-omega", 160), ("Gaussian_yolov3_BDD", 160), ("yolov4-sam-mish-csp-reorg-bfm", 192)]


def fork_arrays(net, seed=0):
    """Random weights with every stored vector away from its default: batch-norm scales follow the
    variance (sqrt(var) * U(0.5, 1.5)), so each normalised channel keeps its range over a deep network
    while the two dialects' formulas differ where the variance is small."""
    from darkbench import weights
    rng = np.random.default_rng(seed + 1)
    arrays = weights.random_arrays(net, seed)
    for (i, name), a in arrays.items():
        if name.rsplit(".", 1)[-1] == "rolling_variance":
            a[...] = 10 ** rng.uniform(-4, 0, a.shape)
            scales = arrays[(i, name[:-len("rolling_variance")] + "scales")]
            scales[...] = np.sqrt(a) * rng.uniform(0.5, 1.5, a.shape)
    return arrays


def rel_l2(want, got):
    norm = float(np.linalg.norm(want))
    return float(np.linalg.norm(want - got)) / (norm if norm else 1.0)


def compare(fork, name, size, workdir):
    """[(layer, rel L2)] of darkbench's every-layer output against the fork's, the folded model's heads'
    [(layer, rel L2)], and whether the fork saved our file back byte for byte. name: a zoo cfg's, or a
    cfg's path (size None: its own)."""
    import torch

    import darkbench
    from darkbench import models, weights
    from test_fork_sections import fork_forward
    workdir = Path(workdir)
    cfg = Path(name) if size is None else rewrite_net(fork.cfg_dir / f"{name}.cfg", workdir / f"{name}.cfg",
                                                      width=size, height=size)
    net = models.analyse(cfg, dialect="alexeyab")
    ours = workdir / "ours.weights"
    weights.write(ours, net, fork_arrays(net), overwrite=True)
    saved = workdir / "fork.weights"
    x = np.random.default_rng(1).uniform(0, 1, net.inputs).astype("<f4")
    want = fork_forward(fork, cfg, ours, x, workdir, saved)
    model = darkbench.load(cfg, saved, dialect="alexeyab")
    xt = torch.from_numpy(x).reshape(1, *model.input_shape)
    with torch.no_grad():
        got = model.layer_outputs(xt)
        folded = darkbench.load(cfg, saved, dialect="alexeyab", fuse=True)(xt)
    folded = folded if isinstance(folded, tuple) else (folded,)
    assert len(got) == len(want) == len(net.layers)
    layers = []
    for l, a, b in zip(net.layers, want, got):
        b = b.reshape(-1).numpy()
        layers.append((l, rel_l2(a[:b.size], b) if a.size >= b.size else float("inf")))
    heads = [(net.layers[i], rel_l2(want[i][:f.numel()], f.reshape(-1).numpy()))
             for i, f in zip(model.heads, folded)]
    return layers, heads, saved.read_bytes() == ours.read_bytes()


@pytest.mark.alexeyab
@pytest.mark.parametrize("name, size", NETS, ids=[n for n, _ in NETS])
def test_zoo_network_matches_the_fork(alexeyab_fork, name, size, tmp_path):
    pytest.importorskip("torch")
    layers, heads, same = compare(alexeyab_fork, name, size, tmp_path)
    assert same, "the fork saved the weights it loaded differently from darkbench's file"
    bad = [(l.index, l.type, e) for l, e in layers if not e <= TOL]
    assert not bad, f"first diverging layer {bad[0]} ({len(bad)} over {TOL})"
    bad = [(l.index, l.type, e) for l, e in heads if not e <= TOL]
    assert not bad, f"folded model: {bad}"


@pytest.mark.alexeyab
@pytest.mark.parametrize("name", ["forward_shortcut", "forward_share", "forward"])
def test_own_cfgs_with_fork_weights_match_the_fork(alexeyab_fork, name, tmp_path):
    """Weighted shortcuts (their weights away from 1), share_index and the fork's convolution options,
    batch-normalised with small variances, through the same fork round trip."""
    pytest.importorskip("torch")
    cfg = tmp_path / f"{name}.cfg"
    text = (HERE / "cfgs" / "alexeyab" / f"{name}.cfg").read_text()
    # batch norm on every convolution that has none: its statistics are what this test moves
    cfg.write_text(text.replace("[convolutional]\n", "[convolutional]\nbatch_normalize=1\n"))
    layers, heads, same = compare(alexeyab_fork, cfg, None, tmp_path)
    assert same
    bad = [(l.index, l.type, e) for l, e in layers + heads if not e <= TOL]
    assert not bad, bad


def main(names):
    """Figures for the report: per network the worst layer, its type and rel L2, the first over TOL."""
    import tempfile
    import time

    import alexeyab
    fork = alexeyab.fork()
    extra = [(n.split(":")[0], int(n.split(":")[1])) for n in names if ":" in n]  # NAME:SIZE, any zoo cfg
    for name, size in extra or NETS:
        if names and not extra and name not in names:
            continue
        t = time.time()
        with tempfile.TemporaryDirectory() as d:
            try:
                layers, heads, same = compare(fork, name, size, d)
            except Exception as e:  # a report line, not a traceback
                print(f"{name} {size}x{size}: ERROR {type(e).__name__}: {str(e)[:300]}")
                continue
        worst = max(layers, key=lambda p: p[1])
        first = next(((l.index, l.type, f"{e:.2e}") for l, e in layers if not e <= TOL), None)
        print(f"{name} {size}x{size}: {len(layers)} layers, worst layer {worst[0].index} [{worst[0].type}] "
              f"rel L2 {worst[1]:.2e}; first over {TOL}: {first}; folded heads max "
              f"{max(e for _, e in heads):.2e}; fork re-saved our file byte for byte: {same}; "
              f"{time.time() - t:.1f} s", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
