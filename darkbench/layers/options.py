"""Which options a section reads in each dialect, and the check on their values every family shares."""
from .. import dialect as dialects
from .traits import trait

# Keys darknet reads for every layer (parse_network_cfg), used or not at inference, per dialect.
COMMON_KEYS = {"clip", "truncation", "onlyforward", "stopbackward", "dontsave", "dontload",
               "numload", "dontloadscales", "learning_rate", "smooth"}
FORK_COMMON_KEYS = {"clip", "onlyforward", "dont_update", "burnin_update", "stopbackward", "train_only_bn",
                    "dontload", "dontloadscales", "learning_rate"}


def common_keys(dialect):
    return FORK_COMMON_KEYS if dialect == dialects.ALEXEYAB else COMMON_KEYS


def known_keys(family, dialect):
    """The options a family's section reads in a dialect (the common ones included)."""
    keys = set(family.KEYS) | common_keys(dialect)
    if dialect == dialects.ALEXEYAB:
        return (keys - trait(family, "PJREDDIE_KEYS")) | trait(family, "FORK_KEYS")
    return keys


def check_positive(sec, **values):
    for key, v in values.items():
        if v <= 0:
            raise sec._err(key, f"{key}={v} must be > 0")
