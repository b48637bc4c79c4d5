#!/usr/bin/env bash
# Reproduce the bundled model (resources/default.pt): stages A and B on CPU, stage C on a GPU.
# See README "Training the bundled model".
# Every stage resumes: re-run the same line with --resume after an interruption.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}   # one thread is robust on a shared 2-core machine
# (the bundled stage C ran on a 16-core GPU machine without this setting and --workers 14)

# 1. the training photos: 51 photographs from three Debian packages (not committed)
$PY main.py fetch-data debian-photos data/debian-photos

# 2. stage A: from scratch (Telea prefill + zero-initialised residual, so step 0 equals Telea),
#    128 px crops, plain L1, holes 0-50 %, lr 2e-4; stop whenever the budget runs out
#    (every stage sets only what differs from train's defaults: TrainOptions in model/training/options.py)
$PY main.py train data/debian-photos --scratch --size 128 --lr 2e-4 --lr-schedule constant --steps 20000 \
    --hole-area 0-50 --val-every 250 --out runs/default-a "$@"   # bundled: stopped at step 3700 ...
# ... then the same line with --lr 1e-4 --resume (bundled: best.pt at step 4750)

# 3. stage B: continue from stage A's best at 256 px crops (bigger holes in pixels, closer to how
#    the app runs it), same L1, lr 1e-4 decaying to 1e-6 on a cosine (train's defaults) over 1,200 steps
$PY main.py train data/debian-photos --init runs/default-a/best.pt --steps 1200 \
    --hole-area 0-50 --val-every 100 --checkpoint-every 50 --out runs/default-d "$@"

# 4. stage C (needs a GPU: 4.6 minutes on an NVIDIA H100, 10.9 steps/s, limited by the CPU-side
#    Telea prefill): from stage B's weights at 256 px, batch 16, 3,000 steps on a cosine
$PY scripts/bundle_weights.py runs/default-d/best.pt -o runs/default-d/stage-b.pt --run-size 512 \
    --run-scales 1,0.5,0.25
$PY main.py train data/debian-photos --init runs/default-d/stage-b.pt --batch-size 16 --steps 3000 \
    --hole-area 0-50 --val-every 250 --checkpoint-every 250 --device cuda --out runs/default-c "$@"

# 5. bundle the best validation checkpoint (bundled: step 2500); the app runs it on crops of up to
#    512 px and averages the fills made at 1, 1/2 and 1/4 of that (chosen on the held-out Debian
#    photos; see README)
$PY scripts/bundle_weights.py runs/default-c/best.pt --run-size 512 --run-scales 1,0.5,0.25 \
    --note "stage A + stage B on CPU + stage C on a GPU, see README"
