"""What the detection heads' families ([yolo], [region], [Gaussian_yolo], [detection]) share when they decode
boxes, numpy only: how one image was prepared (Frame), the rows a head adds to darknet's detection array (Rows),
darknet's box correction and its float32 arithmetic. Outside darkbench/layers/, whose every module the
registry imports on the analytic path (which stays free of numpy): the families import it when they decode."""
from dataclasses import dataclass

import numpy as np

from .image import letterbox_size

F32 = np.float32


@dataclass(frozen=True)
class Frame:
    """One image as the network saw it: what get_network_boxes is told."""
    width: int          # the image's size in pixels
    height: int
    net_width: int      # the network's input size
    net_height: int
    letter: bool        # letterboxed (else resized to the network's size)
    thresh: float
    dialect: str        # pjreddie or alexeyab: whose get_network_boxes
    hier_thresh: float = .5


@dataclass
class Rows:
    """A head's part of darknet's detection array, in darknet's order: boxes (n, 4) float32 x, y, w, h (box
    centre and size relative to the image once corrected), objectness (n,), probs (n, classes) float32 (0 at
    or below thresh, as darknet zeroes them), uncertainty (n, 4) for Gaussian_yolo (tx, ty, tw, th) or None."""
    boxes: np.ndarray
    objectness: np.ndarray
    probs: np.ndarray
    uncertainty: np.ndarray = None


def logistic(x):
    """darknet's logistic_activate, 1/(1 + exp(-x)) in double rounded to float."""
    return (1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64)))).astype(F32)


def keep_above(p, thresh):
    """prob > thresh ? prob : 0 with both as C floats."""
    p = np.asarray(p, dtype=F32)
    return np.where(p > F32(thresh), p, F32(0))


def biases(layer, count):
    """The head's anchors as darknet holds them (floats; .5 where the cfg gives none)."""
    a = np.full(count, 0.5, dtype=F32)
    given = np.asarray(layer.opts.get("anchors") or [], dtype=F32)[:count]
    a[:len(given)] = given
    return a


def scaled_size(t, anchor, net_size):
    """exp(t) * anchor / net_size in double, stored as float (yolo, Gaussian_yolo and region boxes)."""
    return (np.exp(t.astype(np.float64)) * anchor.astype(np.float64) / net_size).astype(F32)


def correct(boxes, frame):
    """correct_yolo_boxes / correct_region_boxes: boxes relative to the network input -> relative to the image
    (undoing the letterbox's scale and offset; nothing to undo after a plain resize)."""
    if not frame.letter or len(boxes) == 0:
        return boxes
    nw, nh = frame.net_width, frame.net_height
    new_w, new_h = letterbox_size(frame.width, frame.height, nw, nh)
    b = boxes.astype(np.float64)
    rw, rh = np.float64(F32(new_w) / F32(nw)), np.float64(F32(new_h) / F32(nh))
    out = np.empty_like(boxes)
    out[:, 0] = (b[:, 0] - (nw - new_w) / 2. / nw) / rw
    out[:, 1] = (b[:, 1] - (nh - new_h) / 2. / nh) / rh
    out[:, 2] = boxes[:, 2] * (F32(nw) / F32(new_w))
    out[:, 3] = boxes[:, 3] * (F32(nh) / F32(new_h))
    return out


def softmax(x, axis=-1):
    """darknet's softmax (max subtracted, sums in float, exp in double)."""
    x = np.asarray(x, dtype=F32)
    e = np.exp((x - x.max(axis=axis, keepdims=True)).astype(np.float64)).astype(F32)
    return e / e.sum(axis=axis, keepdims=True, dtype=F32)
