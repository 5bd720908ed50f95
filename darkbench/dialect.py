"""The two darknet dialects a cfg or weights file can be read in, and how `auto` chooses between them.

pjreddie: darknet as of 2018 (the Debian package). alexeyab: the AlexeyAB fork (YOLOv4 and later).
A family says which dialects have its section (DIALECTS) and which of its options only the fork reads
(FORK_KEYS); `auto` picks the fork when a cfg uses anything only the fork has."""
PJREDDIE = "pjreddie"
ALEXEYAB = "alexeyab"
AUTO = "auto"
NAMES = (PJREDDIE, ALEXEYAB)
CHOICES = (AUTO,) + NAMES

# Activations each dialect knows by name (2018 darknet's get_activation; the fork adds its own)
ACTIVATIONS = {
    PJREDDIE: ("logistic", "loggy", "relu", "elu", "selu", "relie", "plse", "hardtan", "lhtan", "linear",
               "ramp", "leaky", "tanh", "stair"),
}
ACTIVATIONS[ALEXEYAB] = ACTIVATIONS[PJREDDIE] + (
    "mish", "hard_mish", "swish", "relu6", "gelu", "revleaky", "normalize_channels",
    "normalize_channels_softmax", "normalize_channels_softmax_maxval")
FORK_ACTIVATIONS = frozenset(ACTIVATIONS[ALEXEYAB]) - frozenset(ACTIVATIONS[PJREDDIE])


# the .weights header (major, minor, revision) each dialect's save_weights writes
FORK_HEADER = (0, 2, 5)
HEADERS = {PJREDDIE: (0, 2, 0), ALEXEYAB: FORK_HEADER}
WRITERS = {PJREDDIE: "2018 darknet", ALEXEYAB: "the AlexeyAB fork"}


def of_header(major, minor, revision):
    """The dialect whose darknet writes this header version, or None (older or foreign versions: both read
    them)."""
    for d, v in HEADERS.items():
        if (major, minor, revision) == v:
            return d
    return None


def read_version(path):
    """(major, minor, revision) of a .weights file, or None when it cannot be read (the reader that follows
    names the fault)."""
    import struct
    try:
        with open(path, "rb") as f:
            head = f.read(12)
    except OSError:
        return None
    return struct.unpack("<3i", head) if len(head) == 12 else None


def of_weights(path):
    """ALEXEYAB when a .weights file's header says the fork wrote it, else None: what `auto` follows (a 2018
    header leaves the choice to the cfg, as the fork reads 2018 files)."""
    v = read_version(path)
    return ALEXEYAB if v is not None and of_header(*v) == ALEXEYAB else None


def header_mismatch(path, dialect, why=""):
    """A warning when the weights file's header names the other dialect than the one it is read in, else
    None. why: how that dialect was chosen."""
    v = read_version(path)
    named = of_header(*v) if v is not None else None
    if named is None or named == dialect:
        return None
    return (f"{path}: its header {'.'.join(map(str, v))} is what {WRITERS[named]} writes ({named} dialect); "
            f"read in the {dialect} dialect{f' ({why})' if why else ''}")


def check(name, where=None):
    """A dialect name given by the user (auto included), or ValueError naming the choices."""
    if name not in CHOICES:
        raise ValueError(f"unknown dialect '{name}'{f' in {where}' if where else ''} "
                         f"(known: {', '.join(CHOICES)})")
    return name
