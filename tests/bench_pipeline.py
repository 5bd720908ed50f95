"""Benchmark (not a test): the detection pipeline's speed targets, measured side by side in one run.

yolov3-tiny with darknet's trained COCO weights (../shared/weights/yolov3-tiny-coco.weights) over darknet's sample
images, 2 threads, CPU: darkbench's pipeline (decode, letterbox, forward, boxes, NMS) around the eager, compile,
ONNX Runtime and OpenVINO backends, and OpenCV DNN's own DetectionModel.detect (after cv2.imread), all through
`bench --pipeline`'s machinery (darkbench/bench/pipeline.py): one pass over the images per backend per round,
interleaved; ratios with 95% CIs (bootstrap over the paired rounds; shares: the order-statistics CI of the
per-pass median). Targets:
  1. darkbench's post-processing (boxes + NMS) at most 10% of the end-to-end median;
  2. the fastest darkbench pipeline at least as fast end to end as OpenCV's DetectionModel.detect
     (OpenCV's end to end / darkbench's >= 1.0).

    .venv/bin/python tests/bench_pipeline.py [--weights W] [--threads 2] [--min-time 30] [--max-time 120]
        [--backends eager,compile,onnxruntime,openvino,opencv] [--compile VARIANTS] [--darknet]
"""
import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
WEIGHTS = os.path.join(HERE, "..", "..", "shared", "weights", "yolov3-tiny-coco.weights")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cfg", default="yolov3-tiny.cfg")
    ap.add_argument("--weights", default=WEIGHTS)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--min-time", type=float, default=30.0)
    ap.add_argument("--max-time", type=float, default=120.0)
    ap.add_argument("--backends", default="eager,compile,onnxruntime,openvino,opencv")
    ap.add_argument("--compile", help="torch.compile variants for the compile backend (default: its own)")
    ap.add_argument("--darknet", action="store_true", help="also darknet's own detector loop (about 1 s an image)")
    a = ap.parse_args(argv)
    if not os.path.isfile(a.weights):
        sys.exit(f"bench_pipeline: {a.weights} is not here (the trained yolov3-tiny weights; --weights)")
    from darkbench.bench import pipeline, stages
    from darkbench.bench.config import BenchConfig
    from darkbench.bench.env import environment, loadavg
    from darkbench.bench.stats import ratio_ci
    backends = a.backends.split(",") + (["darknet"] if a.darknet else [])
    config = BenchConfig([a.cfg], backends, ["cpu"], threads=a.threads, min_time=a.min_time, max_time=a.max_time,
                         weights={a.cfg: os.path.abspath(a.weights)},
                         options={"compile": a.compile.split(",")} if a.compile else {})
    load0 = loadavg()
    res = [r.to_json() for r in pipeline.run(config, log=lambda r: print(
        f"done: {r.backend} {r.pipeline_ms or r.error or r.skipped}", file=sys.stderr, flush=True))]
    load1 = loadavg()
    env = environment()
    print(f"\n{a.cfg} with {os.path.basename(a.weights)}, {a.threads} threads; CPU {env['cpu']} "
          f"({env['cores']} cores), "
          f"torch {env['torch']}, onnxruntime {env.get('onnxruntime')}, openvino {env.get('openvino')}, "
          f"opencv {env.get('opencv')}; load average {load0[0]} before, {load1[0]} after\n")
    print(stages.table(res))
    ours = [r for r in res if r.get("stages") and set(stages.POST) <= set(r["stages"])]
    other = next((r for r in res if r.get("stages") and "detect" in r["stages"]), None)
    print()
    for r in ours:
        share = pipeline.post_share(r)
        ci = f"[{share[1][0]:.1%}, {share[1][1]:.1%}]" if share[1] else "[< 6 passes]"
        print(f"target 1: {r['backend']}: post-processing (boxes + nms) / end to end, per pass: {share[0]:.1%} {ci} "
              f"(target <= 10%); boxes {r['stages']['boxes']['median_ms']:.2f} ms + nms "
              f"{r['stages']['nms']['median_ms']:.2f} ms of {r['pipeline_ms']:.2f} ms an image")
    if ours and other:
        best = min(ours, key=lambda r: r["pipeline_ms"])
        x, y = other["pipeline_samples_ms"], best["pipeline_samples_ms"]
        v, ci = ratio_ci(x, y, paired=len(x) == len(y))
        print(f"target 2: OpenCV DetectionModel end to end / fastest darkbench pipeline ({best['backend']}): "
              f"{v:.2f} {'[%.2f, %.2f]' % tuple(ci) if ci else '[< 6 passes]'} (target >= 1.0): "
              f"{other['pipeline_ms']:.2f} ms vs {best['pipeline_ms']:.2f} ms an image")
        for r in ours:
            if r is not best:
                v, ci = ratio_ci(x, r["pipeline_samples_ms"], paired=len(x) == len(r["pipeline_samples_ms"]))
                print(f"          OpenCV / {r['backend']}: {v:.2f} {'[%.2f, %.2f]' % tuple(ci) if ci else ''}")
    for r in res:
        if r.get("stages"):
            total = sum(s["median_ms"] for s in r["stages"].values())
            print(f"{r['backend']}: sum of the stages' medians {total:.2f} ms, end-to-end median "
                  f"{r['pipeline_ms']:.2f} ms: {total / r['pipeline_ms']:.3f} (within 3%: "
                  f"{'yes' if abs(total / r['pipeline_ms'] - 1) <= .03 else 'NO'})")
        else:
            print(f"{r['backend']}: not measured: {r.get('error') or r.get('skipped')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
