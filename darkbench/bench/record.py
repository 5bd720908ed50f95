"""One measurement as written to a results file, and read back by the report (the results contract)."""
import dataclasses
import math

from ..errors import DarkbenchError
from . import traits as traits_

# what from_json checks: the types the report relies on (old files carry no more than this)
TEXT = ("model", "backend", "device", "dtype", "path", "error", "skipped", "note", "agreement", "batch_stop",
        "calibration", "weights_sha256", "accuracy_data", "accuracy_against", "accuracy_metric")
NUMBERS = ("median_ms", "mean_ms", "p90_ms", "p99_ms", "iqr_ms", "first_ms", "peak_gflops", "ops", "images_per_s",
           "peak_rss_mib", "prepare_rss_mib", "rss_base_mib", "estimated_mib", "rel_l2", "max_abs", "top1_agree",
           "top5_agree", "speedup_vs_fp32", "agreement_map50", "accuracy", "coco_ap", "top5")
SIGNED = ("accuracy_change",)  # may be below zero
INTEGERS = ("batch", "threads", "samples", "model_bytes", "convs", "convs_at_dtype", "accuracy_images")
NUMBER_LISTS = ("samples_ms", "ci95_ms", "images_per_s_ci95", "speedup_vs_fp32_ci95", "agreement_map50_ci95",
                "accuracy_ci95", "coco_ap_ci95", "top5_ci95", "accuracy_change_ci95")
TEXT_LISTS = ("kept_fp32",)


@dataclasses.dataclass(eq=False)
class Record:
    model: str | None = None
    path: str | None = None
    model_sha256: str | None = None
    backend: str | None = None
    device: str | None = None
    dtype: str | None = None
    batch: int | None = None
    threads: int | None = None
    input: list | None = None  # [channels, height, width]
    median_ms: float | None = None
    mean_ms: float | None = None
    min_ms: float | None = None
    iqr_ms: float | None = None
    p90_ms: float | None = None
    p99_ms: float | None = None
    ci95_ms: list | None = None  # [lo, hi] of the median; None below 6 samples
    samples: int | None = 0
    first_ms: float | None = None
    compile_s: float | None = None
    peak_mem_mb: float | None = None
    error: str | None = None
    skipped: str | None = None
    note: str | None = ""
    ops: int | None = None
    macs: int | None = None
    params: int | None = None
    layers: list | None = None  # per-layer rows (bench --layers)
    peak_gflops: float | None = None
    env: dict | None = None
    # throughput: batch / median, and the median's CI mapped the same way
    images_per_s: float | None = None
    images_per_s_ci95: list | None = None
    # host memory (bench/memory.py): MiB the process's resident high-water mark rose above its resident size
    # before this entry (rss_base_mib) while running it (first call, warm-up), and while preparing it;
    # darknet: its own process's peak. estimated_mib: the analytic estimate at this batch, beside it
    peak_rss_mib: float | None = None
    prepare_rss_mib: float | None = None
    rss_base_mib: float | None = None
    estimated_mib: float | None = None
    # agreement with darkbench's darknet-exact fp32 eager (bench/agreement.py); `agreement` says on what
    rel_l2: float | None = None
    max_abs: float | None = None
    top1_agree: float | None = None
    top5_agree: float | None = None
    agreement: str | None = None
    # a detector's: mAP@0.5 of its detections against fp32 eager's, with a bootstrap CI over the images
    agreement_map50: float | None = None
    agreement_map50_ci95: list | None = None
    # bench --pipeline (bench/pipeline.py), ms per image over the images of a pass (pipeline_images: every
    # pipeline result has it): each stage {median_ms, ci95_ms, samples_ms, what it contains} and the end to
    # end, from the same passes; cold_start {load_s, compile_s, first_ms, steady_ms, prepare_s}
    pipeline_images: list | None = None
    stages: dict | None = None
    pipeline_ms: float | None = None
    pipeline_ci95_ms: list | None = None
    pipeline_samples_ms: list | None = None
    cold_start: dict | None = None
    # written only when set (a result without them is complete)
    weights: str | None = None
    compile_choice: str | None = None
    compile_tried: dict | None = None
    evals_per_sample: int | None = None
    samples_ms: list | None = None
    batch_stop: str | None = None  # --batch auto: why it did not double this one's batch again
    dialect: str | None = None  # the darknet dialect a cfg was read in (issue 14); Keras models have none
    traits: dict | None = None  # what the report needs to know of the backend (bench/traits.py), as JSON
    # what an engine ran (bench/precision.py): the model file it loaded, its convolutions and matrix products and
    # how many ran at the entry's dtype, the nodes the layers kept in fp32 (why, each), the calibration images
    model_bytes: int | None = None
    convs: int | None = None
    convs_at_dtype: int | None = None
    kept_fp32: list | None = None
    calibration: str | None = None
    # a non-fp32 entry whose backend ran fp32 in the same rounds: fp32's median / this one's, bootstrap 95% CI
    speedup_vs_fp32: float | None = None
    speedup_vs_fp32_ci95: list | None = None
    # the weights file given (bench --weights): its sha256 beside `weights`
    weights_sha256: str | None = None
    # task accuracy on bench --data: on what (`accuracy_data`, `accuracy_images` images), against what
    # ("labels", or fp32 eager's detections/classes when there are none), which metric ("mAP@0.5", "top-1"),
    # its value with a bootstrap 95% CI over the images; COCO AP@[.5:.95] where labels exist; a classifier's
    # top-5; and the change against the same backend's fp32 on the same images (paired bootstrap CI)
    accuracy_data: str | None = None
    accuracy_images: int | None = None
    accuracy_against: str | None = None
    accuracy_metric: str | None = None
    accuracy: float | None = None
    accuracy_ci95: list | None = None
    coco_ap: float | None = None
    coco_ap_ci95: list | None = None
    top5: float | None = None
    top5_ci95: list | None = None
    accuracy_change: float | None = None
    accuracy_change_ci95: list | None = None
    other: dict = dataclasses.field(default_factory=dict)  # fields this version does not know, kept as read

    def update(self, fields):
        for k, v in fields.items():
            if k in _NAMES:
                setattr(self, k, v)
            else:
                self.other[k] = v

    def to_json(self):
        d = {}
        for k in _NAMES:
            v = getattr(self, k)
            if k not in _OPTIONAL or v is not None:
                d[k] = v
        d.update(self.other)
        return d

    @classmethod
    def from_json(cls, d, file=None, row=None):
        """A results row checked for the types the report relies on, else one line naming the file, row and
        field. Rows from before --batch existed ran batch 1; rows from before backends declared their traits
        get those of the backend of that name here (neutral ones when it is not)."""
        check(d, file, row)
        r = cls(**{k: d.get(k) for k in _NAMES})
        if "batch" not in d:
            r.batch = 1
        if "traits" not in d:
            from .backends import registry
            r.traits = registry.record_traits(d.get("backend")) or traits_.NEUTRAL.to_json()
        r.other = {k: v for k, v in d.items() if k not in _NAMES}
        return r


_NAMES = tuple(f.name for f in dataclasses.fields(Record) if f.name != "other")
_OPTIONAL = ("weights", "compile_choice", "compile_tried", "evals_per_sample", "samples_ms", "batch_stop",
             "dialect", "model_bytes", "convs", "convs_at_dtype", "kept_fp32", "calibration", "speedup_vs_fp32",
             "speedup_vs_fp32_ci95", "agreement_map50", "agreement_map50_ci95", "pipeline_images", "stages",
             "pipeline_ms", "pipeline_ci95_ms", "pipeline_samples_ms", "cold_start", "weights_sha256",
             "accuracy_data", "accuracy_images", "accuracy_against", "accuracy_metric", "accuracy", "accuracy_ci95",
             "coco_ap", "coco_ap_ci95", "top5", "top5_ci95", "accuracy_change", "accuracy_change_ci95")


def _finite_list(v):
    return isinstance(v, list) and all(isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)
                                       for x in v)


def _number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v >= 0


def check(r, f=None, i=None):
    def bad(field, what):
        raise DarkbenchError(f"result {i} ({r.get('model')!r} {r.get('backend')!r}): {field} {what}", f)
    for k in TEXT:
        if r.get(k) is not None and not isinstance(r[k], str):
            bad(k, "is not text")
    for k in NUMBERS:
        v = r.get(k)
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0):
            bad(k, f"is {v!r}, not a finite number >= 0")
    for k in SIGNED:
        v = r.get(k)
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v)):
            bad(k, f"is {v!r}, not a finite number")
    for k in INTEGERS:
        v = r.get(k)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int)):
            bad(k, f"is {v!r}, not an integer")
    if r.get("env") is not None and not isinstance(r["env"], dict):
        bad("env", "is not an object")
    for k in NUMBER_LISTS:
        if r.get(k) is not None and not _finite_list(r[k]):
            bad(k, "is not a list of finite numbers")
    for k in TEXT_LISTS:
        if r.get(k) is not None and not (isinstance(r[k], list) and all(isinstance(x, str) for x in r[k])):
            bad(k, "is not a list of texts")
    if r.get("traits") is not None and traits_.problem(r["traits"]):
        bad("traits", traits_.problem(r["traits"]))
    if r.get("layers") is not None and not (isinstance(r["layers"], list)
                                            and all(isinstance(x, dict) for x in r["layers"])):
        bad("layers", "is not a list of objects")
    _check_pipeline(r, bad)


def _check_pipeline(r, bad):
    """bench --pipeline's fields (older files have none)."""
    if r.get("pipeline_ms") is not None and not _number(r["pipeline_ms"]):
        bad("pipeline_ms", f"is {r['pipeline_ms']!r}, not a finite number >= 0")
    for k in ("pipeline_ci95_ms", "pipeline_samples_ms"):
        if r.get(k) is not None and not _finite_list(r[k]):
            bad(k, "is not a list of finite numbers")
    if r.get("pipeline_images") is not None and not (isinstance(r["pipeline_images"], list)
                                                     and all(isinstance(x, str) for x in r["pipeline_images"])):
        bad("pipeline_images", "is not a list of texts")
    stages = r.get("stages")
    if stages is not None and not isinstance(stages, dict):
        bad("stages", "is not an object")
    for k, v in (stages or {}).items():
        if not (isinstance(v, dict) and _number(v.get("median_ms"))
                and all(v.get(f) is None or _finite_list(v[f]) for f in ("ci95_ms", "samples_ms"))):
            bad("stages", f"{k!r} is not a stage (median_ms, ci95_ms, samples_ms)")
    cold = r.get("cold_start")
    if cold is not None and not (isinstance(cold, dict) and all(v is None or _number(v) for v in cold.values())):
        bad("cold_start", "is not an object of numbers")


def reason(ex, batch=None):
    """An exception as a result's one-line error."""
    text = str(ex).strip().splitlines()
    if "out of memory" in str(ex).lower() and batch is not None:
        return f"out of memory at batch {batch}: {type(ex).__name__}: {text[0] if text else ''}"[:300]
    return f"{type(ex).__name__}: {text[0] if text else ''}"[:300]
