# darkbench: `make report` (the main job) and `make test`. Both set everything up themselves.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# Pin the local CPU build of torch where it is on disk (no CUDA downloads); plain torch elsewhere.
TORCH ?= $(shell ls /opt/wheels/torch-2.13.0+cpu-*.whl >/dev/null 2>&1 && echo torch==2.13.0 || echo torch)
JOBS ?= 2
# the throughput-vs-batch and latency-vs-size figures: fewer models and backends (no compile per shape), and
# batches and sizes the first run does not measure, so `make report` stays short
SWEEP_MODELS ?= cfg/tiny.cfg cfg/yolov3-tiny.cfg
SWEEP_BACKENDS ?= eager,onnxruntime,openvino
SWEEP_SIZES ?= 160,320,608
# the detection pipeline's table: yolov3-tiny with darknet's trained weights (left out when they are not here)
PIPELINE_WEIGHTS ?= ../shared/weights/yolov3-tiny-coco.weights
PIPELINE_BACKENDS ?= eager,compile,onnxruntime,openvino,opencv,darknet
# the reduced precisions as the engines deploy them, with the same trained weights, beside their fp32: every
# backend x dtype (what a backend does not run is a row saying why); short measurement, its preparing (compile
# variants, export, int8 calibration, each entry's detections) dominates: about 6-8 minutes here
PRECISION_BACKENDS ?= eager,compile,onnxruntime,openvino,opencv
PRECISION_DTYPES ?= fp32,bf16,fp16,int8
PRECISION_TIME ?= --min-time 10 --max-time 30
# the report's networks: one list, also read by `darkbench report` (darkbench/data/report_models.txt)
REPORT_MODELS ?= $(addprefix cfg/,$(file < darkbench/data/report_models.txt))

.PHONY: all setup test report verify bench-ops bench-ops-alexeyab bench-map bench-pipeline bench-int8 bench clean-venv
all: test

$(VENV)/.stamp: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH)"
	$(PY) -m pip install -q -e ".[test]" "$(TORCH)"
	touch $@

setup: $(VENV)/.stamp

test: setup
	$(PY) -m darkbench verify
	$(PY) -m pytest -n $(JOBS) -q -p no:cacheprovider

verify: setup
	$(PY) -m darkbench verify

# Analyse and benchmark the report's networks on this machine's CPU, then write reports/.
# Earlier runs' results (other hosts' too) in reports/results are merged; nothing is committed.
report: setup
	$(PY) -m darkbench bench $(REPORT_MODELS) --device cpu --min-time 30 --max-time 90 --layers --out reports/results
	$(PY) -m darkbench bench $(SWEEP_MODELS) --device cpu --backend $(SWEEP_BACKENDS) --batch 2,4,8 --min-time 10 --max-time 30 --out reports/results
	$(PY) -m darkbench bench $(SWEEP_MODELS) --device cpu --backend $(SWEEP_BACKENDS) --size $(SWEEP_SIZES) --min-time 10 --max-time 30 --out reports/results
	@if [ -f "$(PIPELINE_WEIGHTS)" ]; then \
	  $(PY) -m darkbench bench cfg/yolov3-tiny.cfg --weights "$(PIPELINE_WEIGHTS)" --pipeline --device cpu --backend $(PIPELINE_BACKENDS) --min-time 30 --max-time 120 --out reports/results; \
	else echo "make report: $(PIPELINE_WEIGHTS) is not here: no pipeline table (PIPELINE_WEIGHTS=...)"; fi
	@if [ -f "$(PIPELINE_WEIGHTS)" ]; then \
	  $(PY) -m darkbench bench cfg/yolov3-tiny.cfg --weights "$(PIPELINE_WEIGHTS)" --device cpu --backend $(PRECISION_BACKENDS) --dtype $(PRECISION_DTYPES) $(PRECISION_TIME) --out reports/results; \
	else echo "make report: $(PIPELINE_WEIGHTS) is not here: no reduced-precision table"; fi
	$(PY) -m darkbench report --results reports/results --out reports

# The analytic path against `darknet ops` over darknet's whole zoo (prints both times and the ratio).
bench-ops: setup
	$(PY) tests/bench_ops.py

# The same in the AlexeyAB fork's dialect over the fork's zoo against its `darknet ops`
# (needs DARKBENCH_ALEXEYAB=the fork's build directory, see README).
bench-ops-alexeyab: setup
	$(PY) tests/bench_ops_alexeyab.py

# int8 (and bf16/fp16 where they run) against fp32 on yolov3-tiny with its trained weights (../shared/weights):
# ONNX Runtime and OpenVINO interleaved, speed-ups with CIs, what ran, the detections' agreement with fp32's.
bench-int8: setup
	$(PY) tests/bench_int8.py --explore

# `darkbench map` vs the fork's `darknet detector map` on the same 100 labelled images (needs DARKBENCH_ALEXEYAB
# and ../shared/weights/yolov3-tiny-coco.weights; prints both times and the ratio).
bench-map: setup
	$(PY) tests/bench_map.py

# The detection pipeline's speed targets (yolov3-tiny, trained weights, darknet's sample images; ratios, one run).
bench-pipeline: setup
	$(PY) tests/bench_pipeline.py --weights "$(PIPELINE_WEIGHTS)"

clean-venv:
	rm -rf $(VENV)
