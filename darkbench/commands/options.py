"""Options several commands share."""
from ..dialect import AUTO, CHOICES


def add_dialect_argument(p, default=AUTO, why=""):
    """--dialect: which darknet's rules a cfg (and weights) is read by; `why` says why a command's default is
    not auto."""
    auto = ("auto: the fork's when the cfg uses anything only the fork has, or a weights file's header says the "
            "fork wrote it")
    p.add_argument("--dialect", choices=CHOICES, default=default,
                   help="read cfgs as 2018 darknet (pjreddie) or the AlexeyAB fork (alexeyab) does; "
                        + (f"{auto} (default)" if default == AUTO else f"{auto}; default {default}{why}"))
