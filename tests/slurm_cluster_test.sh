#!/usr/bin/env bash
# The cluster test (ctest label slurm): starts a private single-node Slurm cluster on localhost
# from a temporary folder, runs a 4-trial LeNet-5 sweep through `sweep --slurm` (one shard per
# trial, a merge job after the array), waits for the merge, and checks that the main database
# holds exactly the 4 runs with the weights hashes of the same sweep trained locally. Then it
# cancels the jobs and stops every process it started, by PID, on every exit path.
#   slurm_cluster_test.sh BITBENCH_CLI
# Needs Debian's slurmctld, slurmd and slurm-client (scripts/setup --slurm installs them).
set -euo pipefail

cli=$1
say() { printf 'slurm-test: %s\n' "$*" >&2; }
fail() { say "FAIL: $*"; exit 1; }

for tool in slurmctld slurmd sbatch squeue sinfo scancel scontrol; do
  command -v "$tool" >/dev/null 2>&1 \
    || fail "'$tool' is not installed; scripts/setup --slurm (run by scripts/test) installs Slurm"
done

T=$(mktemp -d "${TMPDIR:-/tmp}/bitbench-slurm.XXXXXX")
chmod 755 "$T"
ctld_pid=""
slurmd_pid=""

# Every exit path comes here: jobs cancelled first (a job's slurmstepd outlives its slurmd), then
# the daemons stopped by PID, SIGKILL after a few seconds.
teardown() {
  local code=$?
  trap '' INT TERM
  if [ -n "$ctld_pid" ] && kill -0 "$ctld_pid" 2>/dev/null; then
    timeout 5 scancel --quiet --user "$(id -un)" 2>/dev/null || true
    local deadline=$((SECONDS + 10))
    while [ $SECONDS -lt $deadline ]; do
      [ -z "$(timeout 5 squeue -h -o %i 2>/dev/null)" ] && break
      sleep 0.5
    done
  fi
  if [ -n "$slurmd_pid" ] && kill -0 "$slurmd_pid" 2>/dev/null; then
    # Job steps still alive on the node, by PID.
    for p in $(timeout 5 scontrol listpids 2>/dev/null | awk 'NR > 1 && $1 ~ /^[0-9]+$/ { print $1 }'); do
      kill -KILL "$p" 2>/dev/null || true
    done
  fi
  for p in $slurmd_pid $ctld_pid; do
    kill -TERM "$p" 2>/dev/null || true
  done
  for p in $slurmd_pid $ctld_pid; do
    local deadline=$((SECONDS + 4))
    while kill -0 "$p" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.2; done
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  if [ "$code" != 0 ]; then
    for f in "$T"/slurmctld.log "$T"/slurmd.log "$T"/main.db.shards/*/*.log; do
      [ -f "$f" ] && { say "--- $f"; tail -n 20 "$f" >&2; }
    done
  fi
  rm -rf "$T"
  exit "$code"
}
trap teardown EXIT
trap 'exit 130' INT TERM

# Ports away from Slurm's defaults (6817, 6818), so a system Slurm never collides.
base=$((20000 + ($$ % 2000) * 2))
mkdir -p "$T/state" "$T/spool"
: >"$T/plugstack.conf"
export SLURM_CONF="$T/slurm.conf"
cat >"$SLURM_CONF" <<EOF
ClusterName=bitbenchtest
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$base
SlurmdPort=$((base + 1))
SlurmUser=$(id -un)
SlurmdUser=$(id -un)
AuthType=auth/none
CredType=cred/none
StateSaveLocation=$T/state
SlurmdSpoolDir=$T/spool
SlurmctldPidFile=$T/slurmctld.pid
SlurmdPidFile=$T/slurmd.pid
SlurmctldLogFile=$T/slurmctld.log
SlurmdLogFile=$T/slurmd.log
PlugStackConfig=$T/plugstack.conf
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
ReturnToService=2
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/filetxt
JobCompLoc=$T/jobcomp.txt
SchedulerParameters=batch_sched_delay=0
MailProg=/bin/true
NodeName=node1 NodeHostname=localhost NodeAddr=127.0.0.1 CPUs=2 RealMemory=1000 State=UNKNOWN
PartitionName=test Nodes=node1 Default=YES MaxTime=INFINITE State=UP
EOF

slurmctld -D -c -i -f "$SLURM_CONF" >"$T/slurmctld.out" 2>&1 &
ctld_pid=$!
slurmd -D -N node1 -f "$SLURM_CONF" >"$T/slurmd.out" 2>&1 &
slurmd_pid=$!
deadline=$((SECONDS + 40))
until [ "$(timeout 6 sinfo -h -n node1 -o %t 2>/dev/null || true)" = idle ]; do
  kill -0 "$ctld_pid" 2>/dev/null || fail "slurmctld exited: $(tail -n 5 "$T/slurmctld.out")"
  kill -0 "$slurmd_pid" 2>/dev/null || fail "slurmd exited: $(tail -n 5 "$T/slurmd.out")"
  [ $SECONDS -lt $deadline ] || fail "node1 not idle after 40 s"
  sleep 0.3
done
say "cluster up after ${SECONDS} s"

# Four LeNet-5 trials on a few hundred generated images each.
cat >"$T/base.json" <<'EOF'
{"name": "lenet5-tiny", "model": "lenet5", "dataset": "synthetic", "bits": "2-8-8-8",
 "batch": 64, "epochs": 1, "lr": 8, "seed": 1, "train_limit": 320, "test_limit": 128,
 "stats_interval": 50}
EOF
cat >"$T/sweep.json" <<'EOF'
{"name": "cluster-test", "base": "base.json", "patterns": ["2888", "2-8-8-4", "2-8-8-6", "2-6-8-8"]}
EOF

# The database's runs as "config hash, status, weights hash of each epoch" lines, sorted, and
# their number.
runs_of() {
  local db=$1 ids id
  ids=$("$cli" runs list --db "$db" --json | grep -o '"id": *[0-9]*' | grep -o '[0-9]*$')
  for id in $ids; do
    "$cli" runs show "$id" --db "$db" --json \
      | grep -o '"config_hash": *"[0-9a-f]*"\|"status": *"[a-z]*"\|"weights_hash": *"[0-9a-f]*"' \
      | tr -d ' ' | tr '\n' ' '
    echo
  done | sort
  echo "runs: $(echo "$ids" | grep -c .)"
}

"$cli" sweep "$T/sweep.json" --db "$T/local.db" --threads 1 >"$T/local.out" \
  || fail "the local sweep failed: $(cat "$T/local.out")"
expected=$(runs_of "$T/local.db")

"$cli" sweep "$T/sweep.json" --db "$T/main.db" --slurm --cpus-per-task 1 --time 5 >"$T/submit.out" \
  || fail "sweep --slurm failed: $(cat "$T/submit.out")"
cat "$T/submit.out" >&2
# While the jobs are queued or running, sweep-status names each trial's state.
early=$("$cli" sweep-status "$T/sweep.json" --db "$T/main.db")
printf '%s\n' "$early" >&2
[ "$(echo "$early" | grep -cE '^ +[0-3]  .* (pending|running|finished) ')" = 4 ] || fail "sweep-status: $early"
merge_job=$(sed -n 's/.* and merge job \([0-9]*\) after it$/\1/p' "$T/submit.out")
[ -n "$merge_job" ] || fail "no merge job id in: $(cat "$T/submit.out")"

deadline=$((SECONDS + 150))
until grep -q "JobId=$merge_job " "$T/jobcomp.txt" 2>/dev/null; do
  [ $SECONDS -lt $deadline ] || fail "the merge job $merge_job did not end within 150 s"
  sleep 0.5
done
grep -q "JobId=$merge_job .*JobState=COMPLETED" "$T/jobcomp.txt" \
  || fail "merge job: $(grep "JobId=$merge_job " "$T/jobcomp.txt")"
say "array and merge done after ${SECONDS} s"

got=$(runs_of "$T/main.db")
printf '%s\n' "$got" >&2
[ "$got" = "$expected" ] || fail "main database differs from the local sweep:
--- local
$expected
--- cluster
$got"
echo "$got" | grep -q '^runs: 4$' || fail "expected 4 runs, got: $got"
[ "$(echo "$got" | grep -c '"status":"finished" .*"weights_hash":"[0-9a-f]\{16\}"')" = 4 ] \
  || fail "not every run finished with a weights hash: $got"

status=$("$cli" sweep-status "$T/sweep.json" --db "$T/main.db")
printf '%s\n' "$status" >&2
[ "$(echo "$status" | grep -c ' finished ')" = 4 ] || fail "sweep-status: $status"
# Submitting again finds nothing to run; merging again adds nothing.
again=$("$cli" sweep "$T/sweep.json" --db "$T/main.db" --slurm)
echo "$again" | grep -q "nothing to submit" || fail "re-submission: $again"
remerge=$("$cli" merge --db "$T/main.db" "$T"/main.db.shards/sweep-1/trial-*.db)
[ "$(echo "$remerge" | grep -c 'merged before, nothing added')" = 4 ] || fail "re-merge: $remerge"
say "PASS: 4 trials on Slurm, the weights hashes of the local sweep"
