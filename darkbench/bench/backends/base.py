"""The backend protocol: what a backend declares and does, what it hands back (a Runner), how it says no (Skip).

A backend is one class in one module (this package's modules, an entry point in the group `darkbench.backends`,
or a file named in DARKBENCH_BACKENDS; registry.py finds them). It declares:
    name        what --backend and the results call it
    devices     where it runs; dtypes: what it runs, a tuple or {device: tuple} (the runner skips the rest,
                saying why from the declaration, with `limits` appended)
    max_batch   the largest batch it runs (None: any)
    options     its own settings (Option): each is a flag of `darkbench bench` and a key of BenchConfig.options
    traits      what its results carry for the report (bench/traits.py: statistic, process, reference, plot
                style, library versions recorded in the environment, order)
    torch       runs torch code (the run measures a GEMM peak for it); layers: per-layer timing of its results
                (None: none, else whether the model is fused); modules: libraries imported before its memory
                is measured (their code is not the model's); gives_outputs: its runners give outputs (False: a
                program that only times itself)
and implements prepare(case, timed) -> Runner (raise Skip("why") when it cannot run here), and may redefine
weights_note(model), estimated_bytes(net, batch) and pipeline(case, thresh, nms, clock) (a detection pipeline of
its own for `bench --pipeline`: backends/passes.py). Any other public name on the class is refused at
registration (a typo would otherwise be a silent default); helpers are private (_name) or module functions.

Other code gets a prepared backend for a model through registry.prepare(name, model, ...): a Runner whose
`outputs` maps a numpy batch to the numpy outputs (at the darknet layers `compare_at` names, when given),
closed with close()."""
import dataclasses
import os
from typing import Callable

from ...errors import DarkbenchError
from ..traits import Traits


DEVICES = ("cpu", "cuda")  # where backends run


class Skip(Exception):
    """The backend cannot run here (reason given); not an error."""


@dataclasses.dataclass(eq=False)
class Runner:
    """One prepared way to run a batch: calling it runs one. `events`: time it with CUDA events (torch work on
    torch's stream; default: on cuda); `measure`: returns its own ms (a program that times itself), else the
    caller times __call__."""
    fn: Callable | None
    device: str = "cpu"
    note: str = ""
    compile_s: float | None = None
    events: bool | None = None
    measure: Callable | None = None
    first_ms: float | None = None  # set when preparing already timed a first run
    forward: Callable | None = None  # torch input -> output (torch runners)
    model: object = None
    cleanup: Callable | None = None  # what close() removes (temporary files)
    extra: dict = dataclasses.field(default_factory=dict)  # extra result fields (compile choice, ...)
    estimate_ms: float | None = None  # warm-up's median: balances the rounds
    resident_bytes: int = 0  # GPU memory it keeps (weights, input), for peak_mem_mb
    # `outputs` maps a numpy (batch, ...) float32 array to a list of numpy outputs: the network's, or those of
    # the darknet layers `compare_at` names (its outputs are not the network's); `agreement_note`: why, or why
    # there is nothing to compare. bench/agreement.py checks them against darkbench's fp32 eager.
    outputs: Callable | None = None
    compare_at: tuple | None = None
    agreement_note: str = ""
    child_rss: list | None = None  # peak resident bytes of each separate process it ran (traits.process)

    def __post_init__(self):
        if self.events is None:
            self.events = self.device == "cuda"

    def __call__(self):
        self.fn()

    def close(self):
        if self.cleanup is not None:
            self.cleanup()
            self.cleanup = None


@dataclasses.dataclass
class Case:
    """What to prepare: a model (bench/model.py: analysed once) on a device, dtype and batch."""
    model: object
    device: str = "cpu"
    dtype: str = "fp32"
    batch: int = 1
    threads: int | None = None


@dataclasses.dataclass(frozen=True)
class Option:
    """A backend's own setting: the flag --NAME of `darkbench bench` (help, metavar, parsed by parse()) and the
    key NAME of BenchConfig.options (checked by check()). `many`: a comma-separated list of `choices`; else one
    value of `type` (from `choices` when given). default None: the backend decides (its help says how)."""
    name: str
    help: str
    choices: tuple = ()
    many: bool = False
    type: Callable = str
    default: object = None
    metavar: str | None = None

    def parse(self, text):
        """The value of a command-line text; ValueError with a one-line reason."""
        if self.many:
            items = [t.strip() for t in text.split(",") if t.strip()]
            if not items:
                raise ValueError(f"no value in {text!r}")
            return self.check(items)
        try:
            value = self.type(text)
        except ValueError:
            raise ValueError(f"{text!r} is not {getattr(self.type, '__name__', 'a value')}") from None
        return self.check(value)

    def check(self, value):
        """The value if it is one this option takes, else ValueError saying why."""
        items = value if self.many else [value]
        if self.many and (not isinstance(value, (list, tuple)) or not value):
            raise ValueError("expected a non-empty list")
        for v in items:
            if self.choices and v not in self.choices:
                raise ValueError(f"unknown value {v!r} (choose from {', '.join(map(str, self.choices))})")
            if not self.choices and not isinstance(v, self.type):
                raise ValueError(f"{v!r} is not {getattr(self.type, '__name__', 'a value')}")
        return list(value) if self.many else value


class Backend:
    """One way to run a network (see the module's docstring). prepare(case, timed) builds what the case needs
    and returns a Runner (one call = one batch); it raises Skip when the backend cannot run here, any other
    error is recorded. `timed` is the group's timer, for a backend that picks among variants while preparing."""
    name = ""
    devices = ("cpu",)
    dtypes = ("fp32",)
    max_batch = None
    limits = ""  # why its devices/dtypes/batches are what they are, said with a skip
    options = ()
    traits = Traits()
    torch = True
    layers = None
    modules = ()
    gives_outputs = True  # its runners give the network's outputs (Runner.outputs): agreement and detections

    def __init__(self, config=None):
        self.config = config  # the run's BenchConfig (None: every option at its default)

    def prepare(self, case, timed):
        raise NotImplementedError

    def option(self, name):
        """The value of one of its options in this run (its default when not given)."""
        opt = next(o for o in self.options if o.name == name)
        given = self.config.options if self.config is not None else {}
        return given.get(name, opt.default)

    def unsupported(self, device, dtype, batch):
        """Why it does not run this device/dtype/batch, from its declaration; None when it does."""
        dtypes = self.dtypes.get(device, ()) if isinstance(self.dtypes, dict) else self.dtypes
        why = None
        if device not in self.devices:
            why = f"the {self.name} backend runs on {' and '.join(self.devices)} only"
        elif dtype not in dtypes:
            why = f"the {self.name} backend runs {', '.join(dtypes)} only" + (
                f" on {device}" if isinstance(self.dtypes, dict) else "")
        elif self.max_batch is not None and batch > self.max_batch:
            why = f"the {self.name} backend runs batches of at most {self.max_batch}"
        return f"{why} ({self.limits})" if why and self.limits else why

    def weights_note(self, model):
        if model.weights_given:
            return given_note(model)
        return ("random (weights.random_arrays), one file for every backend" if model.weights else
                "the model's own initialisation")

    def pipeline(self, case, thresh, nms, clock):
        """A detection pipeline of its own (passes.Pipeline) for bench --pipeline, or None: darkbench's pipeline
        around prepare()'s runner (its outputs, as the heads'). Raises Skip when it cannot run one here."""
        return None

    def estimated_bytes(self, net, batch):
        """The analytic memory estimate its measured peak is set beside (bench/memory.py)."""
        from .. import memory
        return memory.estimated_bytes(net, batch)


DECLARED = frozenset(n for n in vars(Backend) if not n.startswith("_"))


def given_note(model):
    """The record's weights note of a model run with the user's weights file: its file name."""
    return f"given: {os.path.basename(model.weights)}"


def weights_fields(backend, model):
    """A record's `weights` note from its backend, and the given file's sha256 where the backend runs that file
    (its note is the given one; darknet's speed program, for one, runs its own initialisation)."""
    note = backend.weights_note(model)
    runs = model.weights_given and note == given_note(model)
    return dict(weights=note, weights_sha256=model.weights_sha256 if runs else None)


def check_declaration(cls, origin):
    """A backend class as registered: its declarations well-formed, nothing public it does not know."""
    def bad(what):
        raise DarkbenchError(f"backend {cls.name or cls.__name__!r} ({origin}): {what}")
    for klass in cls.__mro__:
        if klass is Backend:
            break
        unknown = sorted(n for n in vars(klass) if not n.startswith("_") and n not in DECLARED)
        if unknown:
            bad(f"unknown declaration {unknown[0]!r} (a backend declares {', '.join(sorted(DECLARED))}; "
                "helpers are private: _name)")
    if not isinstance(cls.name, str) or not cls.name or "," in cls.name:
        bad("its name must be a non-empty text without commas")
    from ..dtypes import NAMES
    if not set(cls.devices) <= set(DEVICES):
        bad(f"devices {tuple(cls.devices)}: known devices are {', '.join(DEVICES)}")
    dtypes = cls.dtypes.values() if isinstance(cls.dtypes, dict) else [cls.dtypes]
    if not all(set(d) <= set(NAMES) for d in dtypes):
        bad(f"dtypes {cls.dtypes}: known dtypes are {', '.join(NAMES)}")
    if not isinstance(cls.traits, Traits):
        bad("traits must be a Traits (darkbench.bench.traits)")
    if not all(isinstance(o, Option) for o in cls.options):
        bad("options must be Option declarations")
