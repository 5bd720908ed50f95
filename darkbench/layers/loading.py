"""What darknet's weights loader reads of a layer: the batch-norm vectors' order, the values a skipped
vector keeps, and the options (dontload, dontloadscales, numload) that make it skip some."""
from .. import dialect as dialects

# What a darknet layer holds before its weights are read (make_*_layer): a vector darknet's loader skips
# keeps this. Kernels ("weights") start random there, so skipping them cannot be reproduced.
INITIAL = {"biases": 0.0, "scales": 1.0, "rolling_mean": 0.0, "rolling_variance": 0.0}
BN_VECTORS = ("scales", "rolling_mean", "rolling_variance")


def bn_weights(n, batch_normalize):
    """Darknet's per-filter vectors after biases, as stored in the file."""
    if not batch_normalize:
        return []
    return [(name, (n,)) for name in BN_VECTORS]


def load_rules(sec, layer, dialect=dialects.PJREDDIE):
    """(names darknet's load_weights_upto skips, why it cannot be reproduced or ""), from the options
    every layer takes: dontload skips the layer, dontloadscales the batch-norm vectors of families with
    DONTLOADSCALES (not [batchnorm], not inner recurrent layers), numload reads only the first N filters
    of families with NUMLOAD."""
    names = tuple(name for name, _ in layer.weights)
    if sec.get_int("dontload", 0):
        random = [n for n in names if n.rsplit(".", 1)[-1] not in INITIAL]
        return names, ("dontload=1: darknet skips this layer when reading weights and keeps the random "
                       "weights it initialised it with" if random else "")
    skipped = ()
    if sec.get_int("dontloadscales", 0) and layer.trait("DONTLOADSCALES"):
        skipped = tuple(n for n in names if n in BN_VECTORS)
    numload = 0 if dialect == dialects.ALEXEYAB else sec.get_int("numload", 0)  # the fork has no numload
    n = layer.out_shape[0]
    if numload and numload != n and layer.trait("NUMLOAD"):
        if 0 < numload < n:
            return skipped, (f"numload={numload}: darknet reads only the first {numload} of {n} filters and "
                             "keeps random weights for the rest")
        return skipped, (f"numload={numload} with {n} filters: darknet would read outside its buffers "
                         "(its result would be garbage)")
    return skipped, ""
