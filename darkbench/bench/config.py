"""What one `darkbench bench` run measures and how (built from the command line, or by tests)."""
import dataclasses


@dataclasses.dataclass
class BenchConfig:
    models: list
    backends: list = dataclasses.field(default_factory=lambda: ["eager"])
    devices: list = dataclasses.field(default_factory=lambda: ["cpu"])
    batches: list = dataclasses.field(default_factory=lambda: [1])
    dtypes: list = dataclasses.field(default_factory=lambda: ["fp32"])
    threads: int = 1
    min_time: float = 2.0  # seconds of measurement per group, at least
    max_time: float = 20.0  # and at most, checked after each round
    out_path: str | None = None  # the run's results file, rewritten as results arrive
    width: int | None = None
    height: int | None = None
    layers: bool = False  # also time each layer
    compile_choices: list | None = None  # None: the compile backend's default for the device
    target: float = 0.02  # stop when every median's 95% CI half-width is within this fraction
    cudnn_benchmark: bool = True
    tf32: bool = False
    seed: int = 0  # of the random weights shared by every backend
    spin: bool | None = None  # idle threads spin; None: decided from the load
    auto_batch: bool = False  # batch 1, 2, 4, ... while throughput rises beyond the noise (bench/batching.py)
    max_batch: int = 256  # the largest batch --batch auto tries
