"""Inference memory counted from the analysis alone (no torch), fp32, for any kind of network.

Three figures, per layer and in total:
- param bytes: 4 per stored value (weights, biases, batch-norm vectors with their running statistics:
  what the model holds to run, the .weights file without its header);
- output bytes: 4 * batch * the layer's outputs;
- live bytes: activations alive once the layer has run, from a liveness pass over the layer graph. An
  output is allocated when its layer runs and freed after its last reader has run (the next layer, or a
  route/shortcut/... naming it in `sources`); the network's output(s) live to the end and the input until
  its last reader. While a layer runs its inputs and its output are all alive: the peak is the largest
  of those sums. A layer's own temporaries (an activation applied out of place, im2col) are not counted.
And darknet's own, what its inference touches (so what its resident set holds): the input buffer, the
weights, one shared workspace, the largest any layer asks for (a family's `WORKSPACE` trait, checked against
libdarknet's l.workspace_size), and for every layer what a family's `DARKNET_FLOATS` trait says: by default
its output and its delta, which forward_network zeroes before each layer even at inference; batch norm's
l.x copy, maxpool's indexes, LRN's squared/norms arrays besides; nothing for a dropout (it shares the
previous layer's buffers). Buffers darknet allocates but never touches at inference (weight updates, adam
moments) are calloc'd zero pages and not resident, so they are left out. tests/test_footprint.py checks
the sum against darknet's own peak RSS (a constant ~80 MiB of process and library overhead apart).

Keras networks give their graph's edges (`producers()`, `output_indices()`); darknet networks read the
previous layer unless a layer reads no input (`inputs == 0`: a route reads only its sources)."""
from dataclasses import dataclass

FLOAT = 4  # bytes per fp32 value


def producers(net):
    """For each layer, the sorted indices of the layers whose outputs it reads (-1: the network input)."""
    edges = getattr(net, "producers", None)
    if edges is not None:
        return edges()
    out = []
    for l in net.layers:
        reads = set(l.sources)
        if l.inputs:
            reads.add(l.index - 1)
        out.append(sorted(reads))
    return out


def output_indices(net):
    """The layers whose outputs the network returns: its heads when it has several (yolo), else its output."""
    given = getattr(net, "output_indices", None)
    if given is not None:
        return given()
    heads = [l.index for l in net.layers if l.trait("HEAD")]
    return heads if len(heads) > 1 else [net.output_index]


@dataclass
class Footprint:
    batch: int
    input_bytes: int
    param_bytes: list        # per layer
    output_bytes: list       # per layer
    live_bytes: list         # per layer: alive once it has run and what it was the last reader of is freed
    running_bytes: list      # per layer: alive while it runs (its inputs and its output)
    workspace_bytes: int     # darknet's shared im2col buffer; 0 for a network darknet cannot run
    darknet: bool            # darknet could run it (its own footprint is meaningful)
    darknet_layer_bytes: list = None  # per layer, what darknet's inference touches for it (DARKNET_FLOATS)

    @property
    def total_param_bytes(self):
        return sum(self.param_bytes)

    @property
    def peak_activation_bytes(self):
        return max(self.running_bytes, default=self.input_bytes)

    @property
    def peak_layer(self):
        """The first layer at which the peak is reached."""
        return self.running_bytes.index(self.peak_activation_bytes) if self.running_bytes else None

    @property
    def darknet_bytes(self):
        """What darknet holds for inference at this batch: every output, its input buffer, the workspace and the
        weights; None for a network darknet does not run (Keras)."""
        if not self.darknet:
            return None
        return self.input_bytes + sum(self.darknet_layer_bytes) + self.workspace_bytes + self.total_param_bytes

    def totals(self):
        return dict(param_bytes=self.total_param_bytes, peak_activation_bytes=self.peak_activation_bytes,
                    peak_layer=self.peak_layer, darknet_bytes=self.darknet_bytes)


def footprint(net, batch=1):
    """The network's Footprint at a batch size (see the module's docstring for what is counted)."""
    layers = net.layers
    reads = producers(net)
    last_read = {}  # producer -> the last layer reading it
    for i, srcs in enumerate(reads):
        for s in srcs:
            last_read[s] = max(i, last_read.get(s, i))
    kept = set(output_indices(net))
    size = {-1: FLOAT * batch * net.inputs}
    live = size[-1] if -1 in last_read else 0
    freed_after = {}
    for s, i in last_read.items():
        if s not in kept:
            freed_after.setdefault(i, []).append(s)
    running, after = [], []
    for l in layers:
        i = l.index
        size[i] = FLOAT * batch * l.outputs
        live += size[i]
        running.append(live)
        for s in freed_after.get(i, ()):
            live -= size[s]
        if i not in last_read and i not in kept:  # read by no one (a cost layer): gone at once
            live -= size[i]
        after.append(live)
    darknet = bool(getattr(net, "has_darknet_layers", False))
    workspace = max((l.trait("WORKSPACE")(l) for l in layers), default=0) if darknet else 0
    return Footprint(batch=batch, input_bytes=size[-1],
                     param_bytes=[FLOAT * l.weight_floats for l in layers],  # dontsave=1 ones too: held
                     output_bytes=[size[l.index] for l in layers], live_bytes=after, running_bytes=running,
                     workspace_bytes=workspace, darknet=darknet,
                     darknet_layer_bytes=[FLOAT * batch * l.trait("DARKNET_FLOATS")(l) for l in layers] if darknet
                     else None)
