#!/usr/bin/env bash
# One GPU slice of the training campaign (issue #20): fits one 10-minute device run.
#
# The campaign trains a larger model than the bundled one: the bundled `default` network
# 1.5 times wider (--widen 1.5: 3.2 M parameters instead of 1.4 M; the new channels start
# without effect, so slice 1 starts exactly at the bundled model's quality) with the harmonic
# prefill, which the GPU makes itself (Telea cannot run there), batches made on the GPU
# (--pipeline device), bf16, channels_last and fused Adam, and the bundled recipe's L1.
# Each slice resumes from the last committed campaign weights,
# resources/experimental/campaign.pt (the first one from resources/default.pt, widened),
# trains for TRAIN_MINUTES with regular checkpoints, and writes the slice's best weights
# (by the trainer's validation PSNR) and its log to $OUT (OUT=runs/slice-out without the
# device tool). Weights only travel between slices (12.7 MB; with Adam's moments the file
# would pass the device tool's 16 MiB per file), so Adam restarts every slice.
#
# Prepare once on the CPU machine (the device machine has no network):
#   python main.py fetch-data debian-photos data/debian-photos             # 25 MB, 51 photos
#   python -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
#       --platform manylinux_2_28_x86_64 -d data/wheels platformdirs        # not in the GPU image
# Run on the GPU (data/ is git-ignored, so it must be carried; 25 MB of the 64 MiB limit):
#   run(command="bash scripts/train_gpu_slice.sh", carry=["data"], timeout_s=600)
# Then, here, with the files it returned (FILES=the run's files_at folder):
#   cp FILES/campaign.pt resources/experimental/campaign.pt
#   cp FILES/campaign_log.txt resources/experimental/campaign_log.txt   # and commit both
#   python scripts/select_weights.py resources/experimental/campaign.pt  # replaces resources/default.pt
#                                                                      # only if it is better
# Settings by environment: DEVICE (cuda), TRAIN_MINUTES (7.5), BATCH (64), LR (1e-4), COMPILE (0; 1 adds
# --compile), STEPS_PER_VAL (500).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-python3}
OUT=${OUT:-runs/slice-out}
mkdir -p "$OUT"
TRAIN_MINUTES=${TRAIN_MINUTES:-7.5}
BATCH=${BATCH:-64}
LR=${LR:-1e-4}
STEPS_PER_VAL=${STEPS_PER_VAL:-500}
CAMPAIGN=resources/experimental/campaign.pt
LOG=resources/experimental/campaign_log.txt
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}   # the scripts import model/

if ! $PY -c "import platformdirs" 2>/dev/null; then   # the GPU image lacks it
    $PY -m pip install -q --no-index --no-deps --target /tmp/site data/wheels/platformdirs-*.whl
    export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
[ -d data/debian-photos ] || { echo "data/debian-photos is missing: fetch it and carry data/" >&2; exit 2; }
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null || true

if [ -f "$CAMPAIGN" ]; then
    START=(--init "$CAMPAIGN")
else
    START=(--init resources/default.pt --widen 1.5)
fi
SLICE=$(( $( [ -f "$LOG" ] && grep -c '^slice' "$LOG" || echo 0 ) + 1 ))
EXTRA=()
[ "${COMPILE:-0}" = 1 ] && EXTRA+=(--compile)

# Each slice draws other crops (--seed), trains at most TRAIN_MINUTES (--time-limit: it then
# validates and saves), validates every STEPS_PER_VAL steps and keeps the best in best.pt.
set +e   # the progress bar's lines are dropped from the output (the tool returns only its tail)
$PY main.py train data/debian-photos "${START[@]}" --prefill harmonic --pipeline device \
    --device "${DEVICE:-cuda}" --size 256 --batch-size "$BATCH" --lr "$LR" --lambda-corr 0 --lambda-style 0 \
    --hole-area 0-50 --steps 1000000 --time-limit "$TRAIN_MINUTES" --seed "$SLICE" \
    --val-every "$STEPS_PER_VAL" --checkpoint-every "$STEPS_PER_VAL" --log-every 50 \
    --out runs/campaign "${EXTRA[@]}" "$@" 2>&1 | tr '\r' '\n' | grep -v '^ *[0-9]*%|'
status=${PIPESTATUS[0]}
set -e
[ "$status" = 0 ] || { echo "training failed (exit $status)" >&2; exit 1; }
# weights only, at the app's run size, as the bundled file is
$PY scripts/bundle_weights.py runs/campaign/best.pt -o "$OUT/campaign.pt" --run-size 512 \
    --run-scales 1,0.5,0.25 --note "campaign slice $SLICE (scripts/train_gpu_slice.sh)"
cp runs/campaign/log.jsonl "$OUT/slice_log.jsonl"
BEST=$($PY - <<'EOF'
import json
log = [json.loads(line) for line in open("runs/campaign/log.jsonl")]
rows = [r for r in log if "val_psnr" in r]
best = max(rows, key=lambda r: r["val_psnr"])
print(f"val PSNR at step 0 {rows[0]['val_psnr']:.3f} dB, best {best['val_psnr']:.3f} dB at step {best['step']} "
      f"of {max(r['step'] for r in log)}")
EOF
)
{ [ -f "$LOG" ] && cat "$LOG"; echo "slice $SLICE $(date -u +%FT%TZ) $(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1): $BEST"; } > "$OUT/campaign_log.txt"
cat "$OUT/campaign_log.txt"
