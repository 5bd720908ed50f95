"""What a results row says about the backend that measured it, for the report (which never names a backend):
declared by each backend (backends/base.py), written into every record, filled in from the registry when an
older results file lacks them (record.py)."""
import dataclasses


@dataclasses.dataclass(frozen=True)
class Traits:
    order: int = 1000  # where runs, tables and legends list it (lower first; then by name)
    process: bool = False  # runs as its own process: peak_rss_mib is that process's own peak
    statistic: str = "median"  # what its latency is: "median" of interleaved runs, or a program's own "mean"
    statistic_note: str = ""  # a sentence saying so, for the report's text (when not the median)
    statistic_label: str = ""  # the same in a few words, for figure legends
    reference: bool = False  # the program the others are compared with (the bench table's REF/this column)
    color: str = "tab:gray"  # its colour and marker in figures
    marker: str = "x"
    versions: dict = dataclasses.field(default_factory=dict)  # env field -> distributions whose version it is

    def __post_init__(self):
        if self.statistic not in STATISTICS:
            raise ValueError(f"statistic {self.statistic!r}: one of {', '.join(STATISTICS)}")

    def to_json(self):
        return {**dataclasses.asdict(self), "versions": {k: list(v) for k, v in self.versions.items()}}


STATISTICS = ("median", "mean")
NAMES = tuple(f.name for f in dataclasses.fields(Traits))
NEUTRAL = Traits()


def problem(t):
    """Why a row's traits (from a results file) are malformed, or None."""
    if not isinstance(t, dict):
        return "is not an object"
    for f in dataclasses.fields(Traits):
        v, want = t.get(f.name), type(getattr(NEUTRAL, f.name))
        if v is not None and (not isinstance(v, want) or (want is int and isinstance(v, bool))):
            return f"{f.name} is {v!r}, not {want.__name__}"
    if t.get("statistic") is not None and t["statistic"] not in STATISTICS:
        return f"statistic is {t['statistic']!r}, not one of {', '.join(STATISTICS)}"
    return None


def of(row):
    """The Traits a results row (a dict) carries; what it lacks (an older or foreign file), neutral."""
    t = (row or {}).get("traits") or {}
    try:
        return Traits(**{k: v for k, v in t.items() if k in NAMES})
    except (TypeError, ValueError):
        return NEUTRAL
