"""--size: one command over several input sizes (a resolution sweep).

Items are `S` (S x S) or `WxH`, comma-separated. A size a network cannot take (any DarkbenchError while
analysing it there: a yolo network whose route joins maps of unequal sizes, a kernel larger than its
input...) is refused for that size alone with a one-line message; the other sizes go on, and the command
exits 1 if any size was refused (as `ops` does for a model it cannot read)."""
import argparse

from .errors import DarkbenchError


def parse_sizes(text):
    """'320,416x288' -> [(320, 320), (416, 288)] as (width, height)."""
    sizes = []
    for item in (t.strip() for t in text.split(",")):
        if not item:
            continue
        w, sep, h = item.lower().partition("x")
        try:
            size = (int(w), int(h) if sep else int(w))
        except ValueError:
            raise argparse.ArgumentTypeError(f"size {item!r}: expected S or WxH (e.g. 416 or 608x352)") from None
        if min(size) <= 0:
            raise argparse.ArgumentTypeError(f"size {item!r}: width and height must be > 0")
        sizes.append(size)
    if not sizes:
        raise argparse.ArgumentTypeError(f"no size in {text!r}")
    return sizes


parse_sizes.__name__ = "size list"  # argparse names the type in its error


def add_size_argument(p):
    p.add_argument("--size", type=parse_sizes, metavar="SIZES",
                   help="comma-separated input sizes, S or WxH (e.g. 320,416,608 or 608x352): the command runs "
                        "once per size; a size the network cannot take is refused alone (exit status 1)")


def sizes_of(args):
    """[(width, height)] to run at: --size's list, or [(--width, --height)] (None: the model's own)."""
    if getattr(args, "size", None):
        if args.width is not None or args.height is not None:
            raise DarkbenchError("--size replaces --width/--height: give one or the other")
        return args.size
    return [(args.width, args.height)]


def size_text(size):
    w, h = size
    return f"{w}x{h}"


def refusal(command, model, size, error):
    """The one line printed for a size a network cannot take."""
    return f"darkbench {command}: {model} at {size_text(size)}: refused: {error}"
