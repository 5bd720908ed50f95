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


def check(name, where=None):
    """A dialect name given by the user (auto included), or ValueError naming the choices."""
    if name not in CHOICES:
        raise ValueError(f"unknown dialect '{name}'{f' in {where}' if where else ''} "
                         f"(known: {', '.join(CHOICES)})")
    return name
