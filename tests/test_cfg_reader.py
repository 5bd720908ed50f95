"""The cfg reader follows darknet's grammar (darknet-semantics.md) and keeps line numbers."""
import pytest

from darkbench import analyse, cfg
from darkbench.errors import DarkbenchError


def test_whitespace_anywhere_comments_and_first_key_wins():
    text = ("[ net ]\n w i d t h = 3 2\nheight=32\nchannels=3\n# comment\n; other\n\n"
            "[ convolutional ]\nfilters = 8\nfilters=99\nsize=3\tpad=1\n")
    secs = cfg.parse(text, "x.cfg")
    assert [s.name for s in secs] == ["net", "convolutional"]
    assert secs[1].get_int("filters") == 8          # first occurrence wins
    assert secs[1].options["filters"][1] == 9       # with its line number
    assert secs[1].options["size"][0] == "3pad=1"   # darknet splits at the FIRST '=' only


def test_crlf_and_bom_are_accepted(tmp_path):
    p = tmp_path / "crlf.cfg"
    p.write_bytes(b"\xef\xbb\xbf[net]\r\nwidth=8\r\nheight=8\r\nchannels=1\r\n[maxpool]\r\nsize=2\r\nstride=2\r\n")
    net = analyse(p)
    assert net.layers[0].out_shape == (1, 4, 4)


@pytest.mark.parametrize("alias,canon", [("conv", "convolutional"), ("max", "maxpool"), ("avg", "avgpool"),
                                         ("soft", "softmax"), ("lrn", "normalization")])
def test_section_aliases(alias, canon):
    extra = "filters=2\n" if alias == "conv" else ""
    net = analyse("a.cfg", text=f"[network]\nwidth=4\nheight=4\nchannels=2\n[{alias}]\n{extra}")
    assert net.layers[0].type == canon


def test_lists_and_relative_absolute_route():
    text = ("[net]\nwidth=8\nheight=8\nchannels=3\n[convolutional]\nfilters=4\n[convolutional]\nfilters=5\n"
            "[route]\nlayers=0,-1\n")
    net = analyse("r.cfg", text=text)
    assert net.layers[2].sources == (0, 1)          # 0 is absolute, -1 relative
    assert net.layers[2].out_shape == (9, 8, 8)


@pytest.mark.parametrize("text,where,what", [
    ("width=3\n[net]\n", ":1", "before any [section]"),
    ("[net]\nwidth=8\nheight=8\nchannels=3\n[convolutional]\nfilters=abc\n", ":6", "not an integer"),
    ("[net]\nwidth=8\nheight=8\nchannels=3\n[convolutional]\nfilters\n", ":6", "expected key=value"),
    ("[net]\nwidth=8\nheight=8\nchannels=3\n[convolutional\n", ":5", "malformed section"),
])
def test_errors_name_the_line(text, where, what):
    with pytest.raises(DarkbenchError) as e:
        analyse("bad.cfg", text=text)
    assert f"bad.cfg{where}" in str(e.value) and what in str(e.value)
