"""darkbench map: the AlexeyAB fork's `detector map` (and COCO's AP) over a darknet .data file's images."""
HELP = ("Mean average precision of a detector over the images of a darknet .data file (valid=, names=, "
        "label files beside the images or in labels/ folders), as the AlexeyAB fork's `detector map` computes "
        "and prints it: AP per class with TP/FP, precision, recall, F1 and average IoU at --thresh, mAP at "
        "--iou-thresh; then COCO's AP@[.5:.95], AP50, AP75 and AP/AR by size (faster-coco-eval).")


def add_arguments(p):
    from ..bench.heads import names
    from ..mapeval import IOU_THRESH, POINTS, THRESH
    from .options import add_dialect_argument
    p.add_argument("cfg", metavar="CFG")
    p.add_argument("weights", metavar="WEIGHTS")
    p.add_argument("data", metavar="DATA", help="darknet .data file: valid= (list of images), names=, classes=")
    p.add_argument("-points", "--points", type=int, default=POINTS, metavar="N",
                   help="AP from: 0 = area under the precision-recall curve (default, VOC 2010-2012, ImageNet), "
                        "11 = 11 recall points (VOC 2007), 101 = 101 recall points (COCO)")
    p.add_argument("-iou_thresh", "--iou-thresh", dest="iou_thresh", type=float, default=IOU_THRESH, metavar="X",
                   help="IoU above which a detection matches a truth (default %(default)s)")
    p.add_argument("-thresh", "--thresh", type=float, default=THRESH, metavar="X",
                   help="confidence threshold of the TP/FP, precision, recall, F1 and average IoU figures "
                        "(default %(default)s)")
    p.add_argument("--names", metavar="FILE", help="class names, one a line (default: the .data file's names=)")
    p.add_argument("--json", action="store_true",
                   help="print every figure as one JSON object instead: per class (ap, tp, fp, truths, detections, "
                        "precision, recall, avg_iou), the totals, map, coco, and how it was run")
    p.add_argument("--no-coco", dest="coco", action="store_false", help="leave out COCO's metrics")
    p.add_argument("--batch", type=int, metavar="N",
                   help="images per forward pass (default: darkbench's own model runs one image on each core at a "
                        "time; a --backend 8 images a pass)")
    p.add_argument("--backend", choices=names(), metavar="NAME",
                   help="run the network on this benchmark backend (" + ", ".join(names()) + "; OpenCV DNN and "
                        "OpenVINO come with darkbench[engines]; default: darkbench's own PyTorch model, batch norm "
                        "folded); the heads are decoded by darkbench either way")
    add_dialect_argument(p, "alexeyab", " (detector map is the fork's: its cfg rules, images resized unless [net] "
                                        "letter_box=1, its heads' decoding and NMS)")


def run(args):
    import json
    import os
    import sys
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see commands/nightmare.py
    from ..evaluation import evaluate
    from ..heap import keep_freed_memory
    keep_freed_memory()  # a batch's activations reused, not faulted in anew each pass
    engine = None
    if args.backend:
        from ..bench.heads import BackendEngine

        def engine():
            return BackendEngine(args.backend, args.cfg, args.weights, args.dialect, args.batch or 8)
    result = evaluate(args.cfg, args.data, args.weights, names=args.names, points=args.points,
                      iou_thresh=args.iou_thresh, thresh=args.thresh, coco=args.coco, batch=args.batch,
                      dialect=args.dialect, engine=engine, progress=sys.stderr.isatty())
    import gc
    gc.freeze()  # the interpreter's last collection round at exit skips torch's objects (a sixth of a second)
    for w in result.warnings:
        print(f"warning: {w}", file=sys.stderr)
    print(json.dumps(result.to_json(), indent=2) if args.json else "\n".join(result.lines()))
    return 0
