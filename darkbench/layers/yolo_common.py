"""What the yolo-like heads ([yolo], [Gaussian_yolo]) share: the fork's NMS options and their anchors."""


def nms_options(sec, kinds):
    """The fork's NMS for a head: nms_kind (a name it knows, else "default") and beta_nms (diounms)."""
    kind = sec.get_str("nms_kind", "default")
    return dict(nms_kind=kind if kind in kinds else "default", beta_nms=sec.get_float("beta_nms", 0.6))


def NMS(layer):
    """(the fork's nms_kind, beta_nms) of the head: its NMS when it is the network's last head."""
    return layer.opts.get("nms_kind", "default"), layer.opts.get("beta_nms", 0.6)


def anchors_for(layer, mask):
    """(anchor w, anchor h) per mask entry, as darknet's biases (.5 where the cfg gives none)."""
    import numpy as np

    from .. import boxes as heads
    mask = np.asarray(mask)
    b = heads.biases(layer, 2 * max(layer.opts["num"], int(mask.max(initial=0)) + 1))
    return b[2 * mask], b[2 * mask + 1]
