"""Hand arithmetic from the seeds: Tiny Darknet's printed layer table and the published sizes."""
from pathlib import Path

import darkbench

ROOT = Path(__file__).resolve().parent.parent

# The seed's printout (tiny-darknet.en.txt): output W x H x C per layer, 224x224x3 input.
SEED_TINY = [(224, 224, 16), (112, 112, 16), (112, 112, 32), (56, 56, 32), (56, 56, 16), (56, 56, 128),
             (56, 56, 16), (56, 56, 128), (28, 28, 128), (28, 28, 32), (28, 28, 256), (28, 28, 32),
             (28, 28, 256), (14, 14, 256), (14, 14, 64), (14, 14, 512), (14, 14, 64), (14, 14, 512),
             (14, 14, 128), (14, 14, 1000)]


def test_tiny_matches_the_seed_layer_table():
    net = darkbench.analyse(ROOT / "cfg/tiny.cfg")
    assert len(net.layers) == 23
    got = [(l.out_shape[2], l.out_shape[1], l.out_shape[0]) for l in net.layers[:20]]
    assert got == SEED_TINY
    assert net.layers[20].type == "avgpool" and net.layers[20].outputs == 1000
    assert [l.type for l in net.layers[21:]] == ["softmax", "cost"]
    assert net.output_index == 21


def test_conv_ops_by_hand():
    # layer 0 of tiny: 2 * 16 filters * 3*3 * 3 channels * 224*224 outputs
    net = darkbench.analyse(ROOT / "cfg/tiny.cfg")
    assert net.layers[0].ops == 2 * 16 * 9 * 3 * 224 * 224
    assert net.layers[0].macs == 16 * 9 * 3 * 224 * 224
    # weights: 16 biases + 3*16 BN vectors + 16*3*3*3 kernel
    assert net.layers[0].weight_floats == 16 + 48 + 432 and net.layers[0].params == 16 + 16 + 432


def test_squeezenet_v10_parameter_count_from_the_paper():
    # Iandola et al. 2016, Table 1: 1,248,424 parameters for SqueezeNet v1.0 (biases included)
    assert darkbench.analyse(ROOT / "cfg/squeezenet.cfg").params == 1248424


def test_maxpool_rules_from_the_reference():
    base = "[net]\nwidth={w}\nheight={w}\nchannels=1\n[maxpool]\nsize={s}\nstride={t}\n"
    out = lambda w, s, t: darkbench.analyse("m.cfg", text=base.format(w=w, s=s, t=t)).layers[0].out_shape[1]
    assert out(13, 2, 1) == 13   # size=2 stride=1 keeps the size
    assert out(7, 2, 2) == 4     # odd sizes round up


def test_odd_non_square_override():
    net = darkbench.analyse(ROOT / "cfg/tiny.cfg", width=225, height=161)
    assert (net.width, net.height) == (225, 161)
    # conv pad=1 keeps 225x161, maxpool 2/2 with padding 1 rounds up: 113x81
    assert net.layers[1].out_shape == (16, 81, 113)


def test_recurrent_params_leave_out_running_statistics(tmp_path):
    # rnn, output 12, on a 9x7x2 input (126 values), batch-normalised: three inner connected layers, each
    # weights + biases + BN scales as parameters; rolling mean and variance are stored but are not parameters
    cfg = tmp_path / "rnn.cfg"
    cfg.write_text("[net]\nwidth=9\nheight=7\nchannels=2\n\n[rnn]\noutput=12\nbatch_normalize=1\n")
    net = darkbench.analyse(cfg)
    by_hand = (126 * 12 + 12 + 12) + 2 * (12 * 12 + 12 + 12)
    assert net.params == by_hand == 1872
    assert net.weight_floats == by_hand + 3 * 2 * 12  # what darknet's save_weights writes: 7796 - 20 bytes
