"""Small labelled image sets for mAP tests and the map benchmark, and the AlexeyAB fork's `detector map` as an
oracle: run in a scratch directory (it appends to bad.list there for a missing label file), its printed figures
parsed. Images are darknet's sample pictures saved as PNG: the fork decodes with stb_image and darkbench with
Pillow, which agree on PNG to the byte (JPEG decoders may differ by a level).

Labels need not be true: the figures must be the fork's. They mix boxes near what yolov3-tiny finds (matched at
some IoU thresholds, not at others), several boxes of a class in one image, classes nothing finds, an empty
label file and an image without one."""
import re
import subprocess
from pathlib import Path

from PIL import Image, ImageOps


DATA = Path("/usr/share/darknet/data")


PICTURES = ("dog", "eagle", "giraffe", "horses", "kite", "person", "scream")
COCO_NAMES = DATA / "coco.names"

# darknet label lines (class x y w h) per image; COCO ids: 0 person, 1 bicycle, 2 car, 7 truck, 14 bird,
# 16 dog, 17 horse, 22 zebra, 23 giraffe, 33 kite, 58 pottedplant, 79 toothbrush
LABELS = {
    "dog": "16 0.293 0.664 0.250 0.557\n1 0.454 0.520 0.580 0.530\n2 0.757 0.214 0.300 0.160\n",
    "eagle": "14 0.505 0.540 0.610 0.730\n",
    "giraffe": "23 0.420 0.470 0.430 0.820\n22 0.660 0.700 0.300 0.440\n",
    "horses": "17 0.215 0.585 0.240 0.380\n17 0.500 0.550 0.300 0.560\n17 0.800 0.560 0.290 0.570\n"
              "17 0.650 0.500 0.100 0.200\n",
    "kite": "0 0.150 0.770 0.060 0.180\n0 0.310 0.790 0.050 0.170\n33 0.440 0.240 0.060 0.100\n",
    "person": "0 0.399 0.541 0.172 0.777\n16 0.212 0.700 0.170 0.270\n17 0.779 0.540 0.331 0.700\n"
              "79 0.500 0.100 0.050 0.050\n",
    "scream": "",                                # no objects
    "dog-flip": "16 0.707 0.664 0.250 0.557\n1 0.546 0.520 0.580 0.530\n7 0.243 0.214 0.300 0.160\n",
    "horses-crop": "17 0.400 0.600 0.500 0.700\n58 0.900 0.900 0.100 0.100\n",
    # "person-small": no label file at all
}


def variants():
    """name -> PIL image: the samples, a mirrored dog, a crop of the horses, a small person."""
    out = {n: Image.open(DATA / f"{n}.jpg").convert("RGB") for n in PICTURES}
    out["dog-flip"] = ImageOps.mirror(out["dog"])
    out["horses-crop"] = out["horses"].crop((100, 40, 500, 420))
    out["person-small"] = out["person"].resize((301, 211))
    return out


def write_set(root, names=None, labels=LABELS, copies=1, folder="images"):
    """Images (PNG) with label files beside them under root/folder, valid.txt listing them (absolute paths,
    `copies` times each under distinct names), and set.data. Returns the .data path."""
    root = Path(root)
    d = root / folder
    d.mkdir(parents=True, exist_ok=True)
    listed = []
    for name, im in variants().items():
        for k in range(copies):
            stem = name if copies == 1 else f"{name}-{k}"
            im.save(d / f"{stem}.png")
            if name in labels:
                (d / f"{stem}.txt").write_text(labels[name])
            listed.append(str((d / f"{stem}.png").resolve()))
    (root / "valid.txt").write_text("".join(f"{p}\n" for p in listed))
    data = root / "set.data"
    data.write_text(f"classes = {80 if names is None else len(Path(names).read_text().splitlines())}\n"
                    f"valid = {(root / 'valid.txt').resolve()}\nnames = {Path(names or COCO_NAMES).resolve()}\n")
    return data


def fork_map(fork, data, cfg, weights, points=0, iou_thresh=.5, thresh=.25, cwd=None):
    """The fork's `darknet detector map` stdout (run in cwd, a scratch directory)."""
    args = [str(fork.exe), "detector", "map", str(data), str(cfg), str(weights), "-points", str(points),
            "-iou_thresh", str(iou_thresh), "-thresh", str(thresh), "-dont_show"]
    r = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=1800)
    if r.returncode != 0 or "mean average precision" not in r.stdout:
        raise RuntimeError(f"the fork's detector map failed ({r.returncode}):\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}")
    return r.stdout


FIGURES = [
    ("counts", r"detections_count = (\d+), unique_truth_count = (\d+)"),
    ("class", r"class_id = (\d+), name = (.*), ap = ([\d.]+)%   \t \(TP = (\d+), FP = (\d+)\)"),
    ("rates", r"for conf_thresh = ([\d.]+), precision = (-?[\w.]+), recall = (-?[\w.]+), F1-score = (-?[\w.]+)"),
    ("totals", r"for conf_thresh = ([\d.]+), TP = (\d+), FP = (\d+), FN = (\d+), average IoU = ([\d.]+) %"),
    ("method", r"IoU threshold = +(\d+) %, used (.*?) \n"),
    ("map", r"mean average precision \(mAP@([\d.]+)\) = ([\d.]+), or ([\d.]+) %"),
]


def parse_map(text):
    """The figures a detector map run prints, as the strings it printed: {"counts": (...), "class": [(...) per
    class], "rates", "totals", "method", "map"} (the fork's progress lines end in \\r: split on both)."""
    text = text.replace("\r", "\n") + "\n"
    out = {}
    for key, pattern in FIGURES:
        found = re.findall(pattern, text)
        out[key] = found if key == "class" else (found[-1] if found else None)
    return out


# A small detector for random weights: 3 classes, two [yolo] heads, letterboxed input ([net] letter_box=1, the
# fork's other way of preparing images) and the fork's DIoU NMS (nms_kind=greedynms) on its last head.
CONV = ("[convolutional]\nbatch_normalize=1\nfilters={}\nsize=3\nstride=1\npad=1\nactivation=leaky\n\n"
        "[maxpool]\nsize=2\nstride=2\n")
HEAD = ("[convolutional]\nsize=1\nstride=1\npad=1\nfilters=24\nactivation=linear\n\n[yolo]\nmask={}\n"
        "anchors=10,14, 23,27, 37,58, 81,82, 135,169, 344,319\nclasses=3\nnum=6\n{}")
SMALL_CFG = ("[net]\nwidth=128\nheight=96\nchannels=3\nletter_box=1\n\n"
             + "\n".join(CONV.format(f) for f in (8, 16, 16, 32)) + "\n" + HEAD.format("3,4,5", "") + "\n[route]\nlayers=-4\n\n"
             + HEAD.format("0,1,2", "nms_kind=greedynms\nbeta_nms=0.6\n"))
SMALL_NAMES = "ant\nbee\ncat\n"
