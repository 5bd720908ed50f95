"""compile: torch.compile (Inductor) variants of the fused model, the fastest one kept."""
import os
import shutil
import tempfile
import time

import numpy as np

from .. import memory
from ..config import BenchConfig
from ..measure import interleaved, warm_up
from ..quiet import quiet
from ..record import reason
from ..traits import Traits
from . import torchbase
from .base import Backend, Option, Skip

# torch.compile variants tried by the compile backend; the fastest is kept and named in the result.
# Each variant's options go to torch.compile(options=...) AND config.patch around the compiling call:
# options alone left the convolutions unpacked (torch 2.13), and the patch alone let a later variant
# silently reuse an earlier variant's graph (same Darknet.forward, params are graph inputs) -- distinct
# options make dynamo see a different backend and compile again.
COMPILE_CHOICES = {
    "freezing": {"freezing": True},  # weights constant: oneDNN prepacked conv + fused activation
    "max-autotune-no-cudagraphs": {"freezing": True, "max_autotune": True, "triton.cudagraphs": False},
    "freezing-cpp-wrapper": {"freezing": True, "cpp_wrapper": True},  # C++ wrapper: less Python per kernel
    "aot-inductor": {"freezing": True},  # torch.export + AOTInductor: a compiled .so, no dynamo guards per call
    "default": {},
}
# On CPU the C++ wrapper and AOTInductor (no dynamo guards per call) beat plain freezing, and max-autotune
# (no CPU convolution templates to try) gives what freezing gives: the README's benchmark section has figures
COMPILE_DEFAULT = {"cpu": ("aot-inductor", "freezing-cpp-wrapper", "max-autotune-no-cudagraphs"),
                   "cuda": ("max-autotune-no-cudagraphs", "freezing")}


def compiled(case, choice="freezing"):
    """One torch.compile variant (COMPILE_CHOICES[choice]) of the fused model; compile time kept apart."""
    import torch
    import torch._dynamo
    import torch._inductor.config as ic
    for name in ("recompile_limit", "cache_size_limit", "accumulated_recompile_limit"):
        if hasattr(torch._dynamo.config, name):  # every model shares Darknet.forward: room for all of them
            setattr(torch._dynamo.config, name, max(getattr(torch._dynamo.config, name), 256))
    m = torchbase.model_on(case.model, case.device, case.dtype, fuse=True)
    x = torchbase.batch_input(m.input_shape, case.batch, case.device, case.dtype, channels_last=True)
    if choice == "aot-inductor":
        return _aot_inductor(m, x, case)
    sync = torch.cuda.synchronize if case.device == "cuda" else (lambda: None)
    t = time.perf_counter()
    fn = torch.compile(m, dynamic=False, options=dict(COMPILE_CHOICES[choice]) or None)
    with quiet(), torch.inference_mode(), ic.patch(COMPILE_CHOICES[choice]):
        fn(x)
        sync()
    compile_s = time.perf_counter() - t
    r = torchbase.torch_runner(fn, m, x, case, f"torch.compile ({choice})", compile_s)
    r.extra["compile_choice"] = choice
    return r


def _aot_inductor(m, x, case):
    """torch.export of the fused model, compiled ahead of time by Inductor into a package in a temporary
    directory (removed on close); calls go straight to the compiled code."""
    import torch
    import torch._inductor
    d = tempfile.mkdtemp(prefix="darkbench-aoti-")
    try:
        t = time.perf_counter()
        with quiet(), torch.no_grad():
            ep = torch.export.export(m, (x,))
            pkg = torch._inductor.aoti_compile_and_package(
                ep, package_path=os.path.join(d, "model.pt2"), inductor_configs=dict(COMPILE_CHOICES["aot-inductor"]))
            fn = torch._inductor.aoti_load_package(pkg)
        with torch.inference_mode():
            fn(x)
        if case.device == "cuda":
            torch.cuda.synchronize()
        compile_s = time.perf_counter() - t
    except BaseException:
        shutil.rmtree(d, ignore_errors=True)
        raise
    r = torchbase.torch_runner(fn, m, x, case, "AOTInductor (torch.export, freezing)", compile_s,
                               cleanup=lambda: shutil.rmtree(d, ignore_errors=True))
    r.extra["compile_choice"] = "aot-inductor"
    return r


def pick_compiled(case, timed, choices, budget):
    """Compile each torch.compile variant, time them briefly side by side, keep the fastest."""
    tried, cands = {}, {}
    for c in choices:
        r = None
        try:
            r = compiled(case, choice=c)
            r.first_ms = timed(r)
            warm_up(r, timed, max_s=1.0)
            cands[c] = r
            tried[c] = {"compile_s": round(r.compile_s, 3)}
        except Skip:
            raise
        except Exception as ex:  # noqa: BLE001 - another variant may work
            if r is not None:
                r.close()
            tried[c] = {"error": reason(ex)}
            memory.free(case.device)
    if not cands:
        why = "; ".join(f"{c}: {t['error']}" for c, t in tried.items())
        raise RuntimeError(f"no torch.compile variant worked: {why}")
    best = next(iter(cands))
    if len(cands) > 1:
        s = interleaved(cands, timed, min(1.0, budget), max(1.0, min(3.0, budget)), errors={}, rebalance=True,
                        reps={c: 1 for c in cands})
        for c, v in s.items():
            if v and c in cands:
                tried[c]["median_ms"] = round(float(np.median(v)), 4)
        best = min((c for c in cands if "median_ms" in tried[c]), key=lambda c: tried[c]["median_ms"], default=best)
    for c in list(cands):
        if c != best:
            cands.pop(c).close()
    memory.free(case.device)
    r = cands[best]
    timed_ = ", ".join(f"{c} {t['median_ms']:.3f} ms" if "median_ms" in t else f"{c} failed"
                       for c, t in tried.items())
    r.note = f"torch.compile {best}" + (f" (fastest of {timed_})" if len(tried) > 1 else "")
    r.extra.update(compile_choice=best, compile_tried=tried)
    return r


class Compile(Backend):
    """The fastest of the torch.compile variants in its option `compile` (default: COMPILE_DEFAULT)."""
    name = "compile"
    devices, dtypes, limits = torchbase.DEVICES, torchbase.DTYPES, torchbase.LIMITS
    options = (Option("compile", "torch.compile variants to try, the fastest kept (default: CPU "
                      f"{','.join(COMPILE_DEFAULT['cpu'])}; CUDA {','.join(COMPILE_DEFAULT['cuda'])}; "
                      f"choose from {','.join(COMPILE_CHOICES)})", choices=tuple(COMPILE_CHOICES), many=True,
                      metavar="VARIANTS"),)
    traits = Traits(order=30, color="tab:blue", marker="o")
    modules = ("torch._inductor", "torch._dynamo")

    def prepare(self, case, timed):
        choices = self.option("compile") or COMPILE_DEFAULT[case.device]
        return pick_compiled(case, timed, choices, self.config.min_time if self.config else BenchConfig.min_time)
