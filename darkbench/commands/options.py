"""Options several commands share."""
from ..dialect import AUTO, CHOICES


def add_dialect_argument(p):
    """--dialect: which darknet's rules a cfg (and weights) is read by."""
    p.add_argument("--dialect", choices=CHOICES, default=AUTO,
                   help="read cfgs as 2018 darknet (pjreddie) or the AlexeyAB fork (alexeyab) does; auto (default): "
                        "the fork's when the cfg uses anything only the fork has, or a weights file's header says "
                        "the fork wrote it")
