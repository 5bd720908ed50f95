"""darkbench detect: objects in images as darknet's detectors find them (2018 `detect`, the fork's `detector test`)."""
HELP = ("Detect objects as darknet does: 2018 darknet's `detect` (letterbox, do_nms_sort) or the AlexeyAB fork's "
        "`detector test` (resize unless [net] letter_box=1, its nms_kind), by the cfg's dialect. Prints darknet's "
        "lines ('dog: 81%%', --ext-output adds the fork's coordinates), or JSON like the fork's -out.")


def add_arguments(p):
    from ..bench.heads import names
    from .options import add_dialect_argument
    add_dialect_argument(p)
    p.add_argument("cfg", metavar="CFG")
    p.add_argument("weights", metavar="WEIGHTS")
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.add_argument("--names", metavar="FILE", help="class names, one per line (default: darknet's installed "
                   "coco.names/voc.names when the class count matches, else class ids)")
    p.add_argument("--thresh", type=float, help="probability threshold (default: .5 as 2018's detect, .25 as the "
                   "fork's detector test)")
    p.add_argument("--hier-thresh", type=float, default=.5, help="darknet's hier_thresh (default .5; only tree "
                   "[region]s read it, and darkbench builds none)")
    p.add_argument("--nms", type=float, default=.45, help="NMS threshold (default .45; 0: no NMS)")
    p.add_argument("--letter-box", action="store_true", help="letterbox the image (the fork's -letter_box; "
                   "2018 darknet always does)")
    p.add_argument("--ext-output", action="store_true", help="each line with the box: left_x, top_y, width, "
                   "height in pixels (the fork's -ext_output)")
    p.add_argument("--json", action="store_true", help="print the detections as JSON like the fork's -out file")
    p.add_argument("--save", metavar="DIR", help="write each image with its boxes drawn to DIR (made if missing; "
                   "an existing file is never replaced: NAME-2.jpg...)")
    p.add_argument("--backend", choices=names(), help="run the network on this benchmark backend (default: "
                   "darkbench's own PyTorch model, in this process)")
    p.add_argument("--batch", type=int, default=1, help="images per forward pass (default 1)")


def run(args):
    import json
    import os
    import sys
    import time

    import numpy as np

    from .. import detect, files
    from ..errors import DarkbenchError
    from ..image import load_color
    for name in ("thresh", "nms", "hier_thresh"):
        v = getattr(args, name)
        if v is not None and not 0 <= v <= 1:
            raise DarkbenchError(f"--{name.replace('_', '-')} {v} must be between 0 and 1")
    if args.batch < 1:
        raise DarkbenchError(f"--batch {args.batch} must be >= 1")
    if args.save and os.path.exists(args.save) and not os.path.isdir(args.save):
        raise DarkbenchError("--save: exists and is not a directory", args.save)
    lines, frames, saved = [], [], []
    if args.backend:
        from ..bench.heads import BackendEngine
        engine = BackendEngine(args.backend, args.cfg, args.weights, args.dialect, args.batch)
    else:
        engine = detect.Engine(args.cfg, args.weights, args.dialect, args.batch)
    with engine:
        net = engine.net
        labels, source = detect.class_names(net, args.names)
        thresh = args.thresh if args.thresh is not None else detect.THRESH[net.dialect]
        letter = True if args.letter_box else None
        for s in range(0, len(args.images), args.batch):
            paths = args.images[s:s + args.batch]
            pictures = [load_color(p) for p in paths]
            preps = [detect.prepare(net, im, letter) for im in pictures]
            t = time.perf_counter()
            outs = engine(np.stack([p.x for p in preps]))
            secs = (time.perf_counter() - t) / len(paths)
            for k, (path, im, prep) in enumerate(zip(paths, pictures, preps)):
                dets = detect.decode(net, {i: y[k] for i, y in outs.items()}, prep, thresh, args.hier_thresh,
                                     args.nms)
                found = detect.printed(dets, labels)
                lines += [_predicted(path, secs, net.dialect)] + [_line(d, dets, args.ext_output) for d in found]
                frames.append(_frame(len(frames) + 1, path, dets, labels))
                if args.save:
                    saved.append((_name(path), _drawn(im, found)))
    # everything ran: now print and write (a bad image above leaves nothing behind)
    print(f"darkbench detect: {net.dialect} dialect, {'letterboxed' if prep.letter else 'resized'} to "
          f"{net.width}x{net.height}, thresh {thresh:g}, nms {args.nms:g}"
          f"{' (' + dets.nms_kind + ')' if dets.nms_kind else ''}; names: {source}", file=sys.stderr)
    print(json.dumps(frames, indent=1) if args.json else "\n".join(lines))
    if saved:
        files.out_dir(args.save)
        for name, data in saved:
            print(f"saved {files.create_new(os.path.join(args.save, name), data)}", file=sys.stderr)
    return 0


def _predicted(path, secs, dialect):
    if dialect == "alexeyab":
        return f"{path}: Predicted in {secs * 1000:f} milli-seconds."
    return f"{path}: Predicted in {secs:f} seconds."


def _percent(p):
    import numpy as np
    return f"{np.float32(p) * np.float32(100):.0f}%"


def _line(d, dets, ext):
    """'name: NN%', with the fork's '(left_x: ...)' computed as it does: float box times the image size, C round."""
    text = f"{d.name}: {_percent(d.prob)}"
    if not ext:
        return text
    import math

    import numpy as np
    f = np.float32
    x, y, w, h = (f(v) for v in dets.boxes[d.row])
    vals = ((x - w / f(2)) * f(dets.width), (y - h / f(2)) * f(dets.height), w * f(dets.width), h * f(dets.height))
    left, top, width, height = (math.copysign(math.floor(abs(float(v)) + 0.5), float(v)) for v in vals)
    return f"{text}\t(left_x: {left:4.0f}   top_y: {top:4.0f}   width: {width:4.0f}   height: {height:4.0f})"


def _frame(frame_id, path, dets, labels):
    """The fork's detection_to_json for one image: every box's classes above .005, in the array's order."""
    from ..detect import JSON_THRESH
    objects = []
    for i, (box, probs) in enumerate(zip(dets.boxes, dets.probs)):
        for j in range(len(probs)):
            if probs[j] > JSON_THRESH and not labels[j].startswith("dont_show"):
                x, y, w, h = (float(v) for v in box)
                objects.append({"class_id": j, "name": labels[j], "relative_coordinates": {
                    "center_x": x, "center_y": y, "width": w, "height": h}, "confidence": float(probs[j])})
    return {"frame_id": frame_id, "filename": str(path), "objects": objects}


def _name(path):
    import os
    return os.path.splitext(os.path.basename(str(path)))[0] + ".jpg"


def _drawn(im, found):
    """JPEG bytes of the image with each box drawn once, labelled with its classes as printed (the first with
    its probability), one colour per first class."""
    import colorsys
    import io

    import numpy as np
    from PIL import Image, ImageDraw
    pic = Image.fromarray(np.ascontiguousarray((np.round(im * 255)).astype(np.uint8).transpose(1, 2, 0)))
    draw = ImageDraw.Draw(pic)
    width = max(1, int(pic.height * .006))
    rows = {}
    for d in found:
        rows.setdefault(d.row, []).append(d)
    for ds in rows.values():
        r, g, b = colorsys.hsv_to_rgb((ds[0].class_id * 0.618034) % 1, .9, .95)
        colour = (int(r * 255), int(g * 255), int(b * 255))
        left, top, w, h = ds[0].box
        draw.rectangle([left, top, left + w, top + h], outline=colour, width=width)
        label = ", ".join([f"{ds[0].name}: {ds[0].prob:.2f}"] + [d.name for d in ds[1:]])
        x0, y0, x1, y1 = draw.textbbox((left, top), label)
        draw.rectangle([x0, y0 - (y1 - y0) - 2, x1 + 2, y0], fill=colour)
        draw.text((left + 1, top - (y1 - y0) - 2), label, fill=(0, 0, 0))
    buf = io.BytesIO()
    pic.save(buf, format="JPEG", quality=90)
    return buf.getvalue()
