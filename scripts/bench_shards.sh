#!/usr/bin/env bash
# Benchmark (not a test): `ttl features` on this machine with 1, 2 and 4 shards running at
# once (the cores shared between them), against the backbone alone (`ttl bench`, batch 32),
# and the cache's cost per image when everything is already in it (read the image to hash
# it, read and verify its entry). The data: the Fashion-MNIST sample COPIES times over (each
# copy with other bytes, so that no entry is found under another image's key); the embedded
# EfficientNet-Lite0. Needs a release build (`swift build -c release`).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TTL=${TTL:-$ROOT/.build/release/ttl}
COPIES=${COPIES:-4}
WORK=$(mktemp -d /tmp/ttl-bench-shards.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
export TTL_HOME="$WORK/home"

DATA="$WORK/data"
for split in train val; do
    for dir in "$ROOT"/examples/fashion-mnist/$split/*/; do
        cls=$(basename "$dir"); mkdir -p "$DATA/$split/$cls"
        for f in "$dir"*.png; do
            for c in $(seq 0 $((COPIES - 1))); do { cat "$f"; printf 'copy %d' "$c"; } > "$DATA/$split/$cls/$(basename "$f" .png)-$c.png"; done
        done
    done
done
IMAGES=$(find "$DATA" -name '*.png' | wc -l)
CORES=$(nproc)
AVX512=$(grep -qw avx512f /proc/cpuinfo && echo AVX-512 || echo "AVX2, no AVX-512")
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//') ($AVX512), $CORES cores; $IMAGES images (224×224 after preprocessing), EfficientNet-Lite0"
"$TTL" bench "$ROOT/weights/efficientnet-lite0.onnx" --batch 32 --threads "$CORES" --repeats 5 | grep -i 'images/s' | sed 's/^/backbone alone (ttl bench): /'

now() { date +%s.%N; }
for n in 1 2 4; do
    rm -rf "$WORK/cache"
    threads=$(( CORES / n > 0 ? CORES / n : 1 ))
    t0=$(now)
    for k in $(seq 0 $((n - 1))); do
        "$TTL" features --data "$DATA" --cache "$WORK/cache" --shard "$k/$n" --threads "$threads" > "$WORK/shard-$k.log" &
    done
    wait
    t1=$(now)
    python3 -c "import sys; s=float(sys.argv[2])-float(sys.argv[1]); print(f'{sys.argv[3]} shard(s) at once, {sys.argv[4]} thread(s) each: {s:.1f} s, {int(sys.argv[5])/s:.0f} images/s')" "$t0" "$t1" "$n" "$threads" "$IMAGES"
done
t0=$(now)
"$TTL" features --data "$DATA" --cache "$WORK/cache" > "$WORK/cached.log"
t1=$(now)
grep -q "0 computed, $IMAGES already cached" "$WORK/cached.log" || { echo "the cache was not complete: $(tail -n 1 "$WORK/cached.log")"; exit 1; }
python3 -c "import sys; s=float(sys.argv[2])-float(sys.argv[1]); print(f'everything cached: {s:.2f} s for {sys.argv[3]} images, {1e6*s/int(sys.argv[3]):.0f} µs per image (process start and model load included)')" "$t0" "$t1" "$IMAGES"
entry=$(find "$WORK/cache" -name '*.f32' -print -quit)
echo "cache on disk: $(du -sk "$WORK/cache" | cut -f1) KiB for $IMAGES images ($(stat -c %s "$entry") bytes per entry)"
