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


# the .weights header (major, minor, revision) the fork writes; 2018 darknet writes revision 0
FORK_HEADER = (0, 2, 5)


def of_weights(path):
    """ALEXEYAB when a .weights file's header says the fork wrote it, else None (unreadable files too: the
    reader that follows names their fault)."""
    import struct
    try:
        with open(path, "rb") as f:
            head = f.read(12)
    except OSError:
        return None
    return ALEXEYAB if len(head) == 12 and struct.unpack("<3i", head) == FORK_HEADER else None


def check(name, where=None):
    """A dialect name given by the user (auto included), or ValueError naming the choices."""
    if name not in CHOICES:
        raise ValueError(f"unknown dialect '{name}'{f' in {where}' if where else ''} "
                         f"(known: {', '.join(CHOICES)})")
    return name
