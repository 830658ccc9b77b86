#!/usr/bin/env bash
# Every GPU benchmark of the I-LoRA work (issue 14) and of prediction (issue 25) in one go, on one large GPU (an
# H100/H200: the 7B steps need ~35 GiB with checkpointing, ~130 GiB at batch 8 without); no checkpoint needed
# (random weights of the 7B's shapes). Results: benchmarks/results/*_cuda*.json. Run from the repository root:
#     bash benchmarks/gpu_all.sh [PYTHON]
# The datasheet peak for MFU is passed as PEAK_TFLOPS (default 989: H100/H200 bf16 dense).
set -euo pipefail
PY=${1:-python}
PEAK=${PEAK_TFLOPS:-989}
cd "$(dirname "$0")/.."
$PY benchmarks/ilora.py --device cuda --tokens 8192
$PY benchmarks/ilora.py --device cuda --tokens 8192 --dropout 0.1 --out benchmarks/results/ilora_cuda_dropout.json
$PY benchmarks/train_step.py --preset omni-7b --device cuda --peak-tflops "$PEAK" --profile
$PY benchmarks/train_step.py --preset omni-7b --device cuda --peak-tflops "$PEAK" --batch 8 --no-checkpointing \
    --variants ilora peft_r --out benchmarks/results/train_step_omni-7b_cuda_b8.json
$PY benchmarks/train_step.py --preset omni-7b --device cuda --peak-tflops "$PEAK" --loss answer \
    --variants ilora peft_r --out benchmarks/results/train_step_omni-7b_cuda_answer.json
$PY benchmarks/generate.py --preset omni-7b --device cuda --count-ops
$PY benchmarks/generate.py --preset omni-7b --device cuda --compiled --variants base ilora
# prediction throughput (issue 25): batch 1, 4, 8 of the 7B in bf16 with compiled decoding, and how many answers
# stay those of batch 1 (benchmarks/results/predict_omni-7b_cuda.json); with a trained checkpoint and several GPUs:
#     python benchmarks/predict.py --checkpoint DIR --device cuda --procs 8
$PY benchmarks/predict.py --preset omni-7b --device cuda --records 64 --new-tokens 128 --procs 0
