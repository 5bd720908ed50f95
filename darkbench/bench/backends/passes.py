"""What `bench --pipeline` (bench/pipeline.py) runs of a backend: a Pipeline, one image at a time, each stage of
it stamped with the run's clock. darkbench's own pipeline (image decode, letterbox/resize, the backend's forward,
the heads' boxes, NMS) is built around any backend whose runners give outputs; a backend with a pipeline of its
own (OpenCV's DetectionModel, darknet's `detector test` loop) returns one from Backend.pipeline()."""
import dataclasses
from typing import Callable


class Stamps:
    """One pass's stage times in ms. stamp(stage) gives the time since the previous stamp (or the start) to that
    stage, so the stages of a pass add up to its whole time exactly; inside={stage: ms} moves a part of that
    interval that a program timed itself (darknet's "Predicted in") to another stage."""

    def __init__(self, clock):
        self.clock = clock
        self.start = self.last = clock()
        self.ms = {}

    def stamp(self, stage, inside=None):
        now = self.clock()
        spent = (now - self.last) * 1000
        for other, part in (inside or {}).items():
            part = min(max(part, 0.0), spent)
            self.ms[other] = self.ms.get(other, 0.0) + part
            spent -= part
        self.ms[stage] = self.ms.get(stage, 0.0) + spent
        self.last = now

    def total(self):
        """ms from the start to the last stamp."""
        return (self.last - self.start) * 1000


@dataclasses.dataclass(eq=False)
class Pipeline:
    """A backend's detection pipeline ready to run: image(path, stamps) takes one image from its file to its
    detections, stamping each stage in `stages` ({stage: what it contains}, in order); what its cold start cost
    (load_s: reading and building the model; compile_s: compiling or exporting it, None when there is nothing
    of the kind; prepare_s: everything preparing took); process: it runs in a program of its own."""
    image: Callable
    stages: dict
    note: str = ""
    load_s: float | None = None
    compile_s: float | None = None
    prepare_s: float | None = None
    process: bool = False
    cleanup: Callable | None = None
    extra: dict = dataclasses.field(default_factory=dict)  # extra result fields (compile choice, ...)

    def close(self):
        if self.cleanup is not None:
            self.cleanup()
            self.cleanup = None
