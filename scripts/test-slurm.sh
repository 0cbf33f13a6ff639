#!/usr/bin/env bash
# `make test-slurm`: a real single-node Slurm cluster on this machine (Debian's slurmctld,
# slurmd and munge, in the foreground, under a generated slurm.conf with two CPU slots on
# localhost; no systemd), and ttl's sharded feature extraction on it:
#   1. a 4-shard `ttl features --slurm` of the sample data (four copies of it, so that a task
#      runs long enough to be killed) with a dependent `--then-finetune`;
#   2. one array task killed mid-way: the dependent fine-tune is cancelled with it, and
#      `--tasks missing` resubmits that shard, which computes only what it had not stored;
#   3. the model equals, byte for byte, the one a single-machine `ttl finetune` produces.
# Needs root (the daemons run as root) and, when Slurm is missing, apt-get. Slurm 22.05.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TTL=${TTL:-$ROOT/.build/release/ttl}
say() { echo "test-slurm: $*"; }
fail() { echo "test-slurm: FAILED: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || fail "run as root: slurmctld and slurmd run as root here"
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v munged >/dev/null || ! command -v sbatch >/dev/null; then
    say "installing slurmctld, slurmd, slurm-client and munge"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends slurmctld slurmd slurm-client munge >/dev/null \
        || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends slurmctld slurmd slurm-client munge >/dev/null; }
fi
if [ ! -x "$TTL" ]; then (cd "$ROOT" && swift build -c release --product ttl); fi

WORK=$(mktemp -d /tmp/ttl-slurm.XXXXXX)
PIDS=()
cleanup() {
    status=$?
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    if [ "$status" != 0 ]; then
        echo "--- logs kept in $WORK"; tail -n 20 "$WORK"/*.log "$WORK"/home/slurm/logs/* 2>/dev/null || true
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT

# munge: its own key, socket and files.
mkdir -p "$WORK/munge" && chmod 700 "$WORK/munge"
dd if=/dev/urandom of="$WORK/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$WORK/munge/munge.key"
munged --foreground --force --key-file="$WORK/munge/munge.key" --socket="$WORK/munge/socket" \
    --pid-file="$WORK/munge/munged.pid" --log-file="$WORK/munged.log" --seed-file="$WORK/munge/seed" >"$WORK/munged.out" 2>&1 &
PIDS+=($!)

# slurm.conf: this host as controller and as the one node, two CPUs, ports free here.
HOST=$(hostname -s)
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
CTLD_PORT=$(port); SLURMD_PORT=$(port)
mkdir -p "$WORK/state" "$WORK/spool"
export SLURM_CONF="$WORK/slurm.conf"
cat > "$SLURM_CONF" <<EOF
ClusterName=ttltest
SlurmctldHost=$HOST(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$WORK/munge/socket
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
StateSaveLocation=$WORK/state
SlurmdSpoolDir=$WORK/spool
SlurmctldPidFile=$WORK/slurmctld.pid
SlurmdPidFile=$WORK/slurmd.pid
SlurmctldLogFile=$WORK/slurmctld.log
SlurmdLogFile=$WORK/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdParameters=config_overrides
ReturnToService=2
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
KillWait=5
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=2 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
for _ in $(seq 50); do [ -S "$WORK/munge/socket" ] && break; sleep 0.1; done
slurmctld -D -f "$SLURM_CONF" >"$WORK/slurmctld.out" 2>&1 &
PIDS+=($!)
slurmd -D -f "$SLURM_CONF" -N "$HOST" >"$WORK/slurmd.out" 2>&1 &
PIDS+=($!)
for i in $(seq 120); do
    sinfo -h -o %t 2>/dev/null | grep -qE '^idle' && break
    [ "$i" = 120 ] && fail "the node did not come up: $(sinfo 2>&1 | tail -n 1)"
    sleep 0.5
done
say "single-node Slurm up ($HOST, 2 CPUs)"

# The data: the sample four times over, each copy with different bytes (text after PNG's
# IEND), so that no image's features are found in the cache under another's.
DATA="$WORK/data"
for split in train val; do
    for dir in "$ROOT"/examples/fashion-mnist/$split/*/; do
        cls=$(basename "$dir"); mkdir -p "$DATA/$split/$cls"
        for f in "$dir"*.png; do
            for c in 0 1 2 3; do { cat "$f"; printf 'copy %d' "$c"; } > "$DATA/$split/$cls/$(basename "$f" .png)-$c.png"; done
        done
    done
done
IMAGES=$(find "$DATA" -name '*.png' | wc -l)
FINETUNE="--epochs 3 --seed 7"

say "single-machine reference: ttl finetune on $IMAGES images"
TTL_HOME="$WORK/single" "$TTL" finetune --data "$DATA" $FINETUNE --output "$WORK/single.onnx" > "$WORK/single.log"

export TTL_HOME="$WORK/home"
CACHE="$WORK/shared-cache"
submit() {
    "$TTL" features --data "$DATA" --cache "$CACHE" --slurm --array-size 4 --cpus-per-task 1 "$@" \
        --then-finetune "$FINETUNE --output $WORK/cluster.onnx" | tee -a "$WORK/submit.log"
}
job_of() { sed -n "s/.*as array job \([0-9]*\).*/\1/p" "$WORK/submit.log" | tail -n 1; }
wait_gone() {  # until the jobs leave the queue
    for _ in $(seq 1200); do [ -z "$(squeue -h -j "$1" 2>/dev/null)" ] && return 0; sleep 0.5; done
    fail "jobs $1 still queued after 10 minutes: $(squeue 2>&1)"
}
state() { scontrol show job "$1" 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p' | head -n 1; }

submit
ARRAY=$(job_of)
FIRST_FT=$(sed -n 's/.* as job \([0-9]*\), to start.*/\1/p' "$WORK/submit.log" | tail -n 1)
[ -n "$ARRAY" ] && [ -n "$FIRST_FT" ] || fail "no job ids in: $(cat "$WORK/submit.log")"

# Kill task 2 once its log shows it has stored some features and before it ends.
LOG="$TTL_HOME/slurm/logs/ttl-features-${ARRAY}_2.out"
for i in $(seq 1200); do
    [ -f "$LOG" ] && grep -q ' images$' "$LOG" && break
    [ "$i" = 1200 ] && fail "task 2 showed no progress in 10 minutes"
    sleep 0.05
done
grep -q 'computed' "$LOG" && fail "task 2 finished before it could be killed"
scancel --signal=KILL "${ARRAY}_2"
say "killed array task ${ARRAY}_2 after: $(grep ' images$' "$LOG" | tail -n 1)"
wait_gone "$ARRAY"
for _ in $(seq 100); do [ -z "$(squeue -h -j "$FIRST_FT" 2>/dev/null)" ] && break; sleep 0.2; done
[ -z "$(squeue -h -j "$FIRST_FT" 2>/dev/null)" ] || fail "the fine-tune job $FIRST_FT still waits on a failed array"
[ -e "$WORK/cluster.onnx" ] && fail "a model was written although a shard had failed"

"$TTL" features --data "$DATA" --cache "$CACHE" --status --array-size 4 | tee "$WORK/status-after-kill.log"
grep -q '^shard 2/4: .* missing$' "$WORK/status-after-kill.log" || fail "shard 2 is not reported incomplete"
[ "$(grep -c 'complete$' "$WORK/status-after-kill.log")" = 3 ] || fail "shards 0, 1 and 3 are not all complete"
BEFORE=$(sed -n 's/^shard 2\/4: [0-9]* images, \([0-9]*\) cached.*/\1/p' "$WORK/status-after-kill.log")
[ "$BEFORE" -gt 0 ] || fail "the killed task had stored nothing"

say "resubmitting the missing shard"
submit --tasks missing
ARRAY2=$(job_of)
[ "$ARRAY2" != "$ARRAY" ] || fail "nothing was resubmitted"
wait_gone "$ARRAY2"
SECOND_FT=$(sed -n 's/.* as job \([0-9]*\), to start.*/\1/p' "$WORK/submit.log" | tail -n 1)
wait_gone "$SECOND_FT"
LOG2="$TTL_HOME/slurm/logs/ttl-features-${ARRAY2}_2.out"
grep -q "shard 2/4: [0-9]* computed, $BEFORE already cached" "$LOG2" || fail "the resubmitted task did not reuse the $BEFORE stored features: $(tail -n 1 "$LOG2")"
[ "$(state "$SECOND_FT")" = COMPLETED ] || [ -e "$WORK/cluster.onnx" ] || fail "the fine-tune job did not finish: $(cat "$TTL_HOME"/slurm/logs/ttl-finetune-"$SECOND_FT".out)"
[ -e "$WORK/cluster.onnx" ] || fail "the fine-tune job wrote no model"
cmp "$WORK/single.onnx" "$WORK/cluster.onnx" || fail "the cluster's model differs from the single-machine one"
"$TTL" features --data "$DATA" --cache "$CACHE" --status | grep -q "^all: $IMAGES images, $IMAGES cached, complete$" || fail "the cache is not complete"
say "passed: 4 shards on Slurm, one killed and resubmitted, model identical to the single-machine run ($IMAGES images)"
