"""[contrastive] (AlexeyAB fork): a training-only contrastive loss over the embeddings it reads, tied to a
[yolo] layer (yolo_layer=). It passes its input's count on as a flat vector (the fork sets no out_c/h/w)."""
from .traits import FORK_ONLY, MOVEMENT

NAMES = ("contrastive",)
KEYS = {"classes", "yolo_layer", "temperature", "cls_normalizer", "max_delta", "contrastive_neg_max"}
DIALECTS = FORK_ONLY
COST = True
TORCH_OPS = {"aten::new_zeros": MOVEMENT}


def build(sec, ctx):
    sec.get_int("classes", 1000)
    for key in ("temperature", "cls_normalizer", "max_delta"):
        sec.get_float(key, 1.0)
    sec.get_int("contrastive_neg_max", 3)
    ref = sec.get_int("yolo_layer", 0)
    if ref == 0:  # the fork dereferences a null layer then
        raise sec._err("yolo_layer", "needs yolo_layer= naming its [yolo] layer (the fork crashes without it)")
    yolo = ctx.ref(sec, "yolo_layer", ref)
    if yolo.type != "yolo":
        raise sec._err("yolo_layer", f"yolo_layer={ref} is layer {yolo.index} ({yolo.type}), not a [yolo] "
                                     "layer (the fork refuses this)")
    c, h, w = ctx.need_image(sec)
    n = len(yolo.opts.get("mask", ())) or 1
    emb = ctx.inputs // (n * h * w)
    known = yolo.opts.get("embedding_size")  # set by the yolo family when it reads embedding_layer=
    if known is not None and emb != known:
        raise ctx.fail(sec, f"embedding size {emb} ({ctx.inputs} inputs / {n} anchors / {w}x{h}) differs from "
                            f"layer {yolo.index}'s embedding_size={known} (the fork refuses this)")
    return ctx.layer(sec, "contrastive", (0, 0, 0), outputs=ctx.inputs,
                     opts=dict(yolo_layer=yolo.index, embedding_size=emb),
                     desc=f"yolo {yolo.index}")


def module(layer, net):
    from ..nn import Elementwise
    # the fork's forward returns at once outside training: its output stays the zeros it was allocated with
    return Elementwise(lambda x: x.new_zeros(x.shape[0], layer.outputs), "training only (zeros)")
