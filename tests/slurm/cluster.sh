#!/usr/bin/env bash
# A private single-node SLURM cluster on this host, for the workflow's SLURM test.
#
#   tests/slurm/cluster.sh install   apt-get install munge + slurmctld + slurmd + slurm-client (if missing)
#   tests/slurm/cluster.sh start     install, stop a stale cluster of this script, start a fresh one
#   tests/slurm/cluster.sh stop      cancel its jobs, stop exactly the daemons it started (by PID)
#   tests/slurm/cluster.sh status    daemons, sinfo, squeue
#   tests/slurm/cluster.sh env       the line to eval for client commands: export SLURM_CONF=... PATH=...
#
# Everything lives in one state directory, $NETREGIONS_SLURM_DIR (default /tmp/netregions-slurm):
# slurm.conf, a munge key and socket, spool and state dirs, daemon logs, PID files and the job
# completion log (jobcomp.log, one line per finished job). /etc/slurm and /etc/munge are not
# touched; clients find the cluster through SLURM_CONF. No slurmdbd: job states come from
# squeue (MinJobAge keeps finished jobs visible for an hour) and from jobcomp.log.
#
# $STATE/bin goes first on PATH: its `srun` re-exports SLURM_CONF, because
# snakemake-executor-plugin-slurm-jobstep (0.6.1) deletes every SLURM_* variable but the job's
# identity before it calls `srun` inside a job, SLURM_CONF included; without it srun looks for
# /etc/slurm/slurm.conf, then a DNS SRV record, and fails ("Could not establish a configuration
# source"). Clusters with their configuration at the default place are not affected.
#
# Needs root (slurmd launches jobs; apt-get). No systemd: the daemons run in the foreground (-D/-F)
# in their own sessions. Every wait is bounded. Ports: $NETREGIONS_SLURM_PORT (slurmctld, default
# 6817) and the next one (slurmd).
set -euo pipefail

STATE="${NETREGIONS_SLURM_DIR:-/tmp/netregions-slurm}"
CONF="$STATE/slurm.conf"
PORT="${NETREGIONS_SLURM_PORT:-6817}"
MUNGE_SOCKET="$STATE/munge/munge.socket"
PACKAGES=(munge slurmctld slurmd slurm-client)
START_TIMEOUT="${NETREGIONS_SLURM_START_TIMEOUT:-60}"   # seconds, per daemon
STOP_TIMEOUT=20
ENV_LINE="export SLURM_CONF=$CONF PATH=$STATE/bin:\$PATH"

log() { printf '[cluster.sh] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

need_root() {
    [[ $(id -u) -eq 0 ]] || die "must run as root (slurmd launches jobs; packages come from apt-get)"
}

# ----------------------------------------------------------------------------- install

missing_binaries() {
    local b
    for b in /usr/sbin/munged /usr/bin/munge /usr/sbin/slurmctld /usr/sbin/slurmd \
        /usr/bin/sbatch /usr/bin/squeue /usr/bin/sinfo /usr/bin/scontrol /usr/bin/scancel; do
        [[ -x $b ]] || echo "$b"
    done
}

cmd_install() {
    if [[ -z $(missing_binaries) ]]; then
        return 0
    fi
    need_root
    command -v apt-get >/dev/null || die "SLURM is not installed and apt-get is not available"
    log "installing ${PACKAGES[*]} (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    # wait for a concurrent apt/dpkg run rather than failing on its lock
    local apt=(apt-get -q -y -o Dpkg::Use-Pty=0 -o DPkg::Lock::Timeout=300 --no-install-recommends)
    if ! timeout 900 "${apt[@]}" install "${PACKAGES[@]}" >"$STATE/apt.log" 2>&1; then
        log "apt-get install failed; apt-get update and retry"
        if ! timeout 300 apt-get -q update >>"$STATE/apt.log" 2>&1; then
            tail -n 15 "$STATE/apt.log" >&2
            die "apt-get update failed (is a Debian mirror reachable?); see $STATE/apt.log"
        fi
        if ! timeout 900 "${apt[@]}" install "${PACKAGES[@]}" >>"$STATE/apt.log" 2>&1; then
            tail -n 15 "$STATE/apt.log" >&2
            die "apt-get install ${PACKAGES[*]} failed; see $STATE/apt.log"
        fi
    fi
    [[ -z $(missing_binaries) ]] || die "still missing after apt-get: $(missing_binaries | xargs)"
    log "installed: $(dpkg-query -W -f='${Package} ${Version}, ' "${PACKAGES[@]}")"
}

# ----------------------------------------------------------------------------- processes

# PID recorded for a daemon, if that process still runs *this* state dir's daemon.
live_pid() {
    local name=$1 pidfile="$STATE/$1.pid" pid cmdline
    [[ -f $pidfile ]] || return 1
    pid=$(<"$pidfile")
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    [[ -r /proc/$pid/cmdline ]] || return 1
    cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline")
    # a recycled PID runs something else: never signal it
    [[ $cmdline == *"$name"* && $cmdline == *"$STATE"* ]] || return 1
    echo "$pid"
}

stop_daemon() {
    local name=$1 pid i
    if pid=$(live_pid "$name"); then
        kill -TERM "$pid" 2>/dev/null || true
        for ((i = 0; i < STOP_TIMEOUT * 10; i++)); do
            [[ -e /proc/$pid ]] || break
            sleep 0.1
        done
        if [[ -e /proc/$pid ]]; then
            log "$name ($pid) ignored SIGTERM for ${STOP_TIMEOUT}s: SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            sleep 0.5
        fi
        log "stopped $name (pid $pid)"
    fi
    rm -f "$STATE/$name.pid"
}

# Start a daemon in the foreground mode of its own session; record its PID.
start_daemon() {
    local name=$1
    shift
    setsid "$@" >"$STATE/log/$name.out" 2>&1 </dev/null &
    echo $! >"$STATE/$name.pid"
    log "started $name (pid $!)"
}

# Wait (bounded) until "$@" succeeds; fail with the daemon's log otherwise.
wait_for() {
    local what=$1 name=$2 timeout=$3
    shift 3
    local deadline=$((SECONDS + timeout))
    local pid
    pid=$(<"$STATE/$name.pid")
    until "$@" >/dev/null 2>&1; do
        # existence only: during setpriv/exec the command line can read empty for a moment,
        # which live_pid (meant to guard kills against recycled PIDs) would take for an exit
        if ! kill -0 "$pid" 2>/dev/null; then
            tail -n 30 "$STATE/log/$name.out" "$STATE/log/$name.log" 2>/dev/null >&2 || true
            die "$name exited before $what"
        fi
        if ((SECONDS >= deadline)); then
            tail -n 30 "$STATE/log/$name.out" "$STATE/log/$name.log" 2>/dev/null >&2 || true
            die "timed out after ${timeout}s waiting for $what"
        fi
        sleep 0.5
    done
}

# ----------------------------------------------------------------------------- config

node_line() {
    # e.g. "NodeName=vm CPUs=2 Boards=1 SocketsPerBoard=1 CoresPerSocket=2 ThreadsPerCore=1
    # RealMemory=24103"; keep the topology, leave 10 % of the memory to the system.
    local host=$1 line mem
    line=$(/usr/sbin/slurmd -C | head -n 1)
    [[ $line == NodeName=* ]] || die "unexpected 'slurmd -C' output: $line"
    mem=$(sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' <<<"$line")
    line=$(sed -e "s/^NodeName=[^ ]*/NodeName=$host/" -e "s/RealMemory=[0-9]*/RealMemory=$((mem * 9 / 10))/" <<<"$line")
    # NodeAddr: talk over loopback even if the hostname does not resolve here
    echo "$line NodeAddr=127.0.0.1 NodeHostname=$host State=UNKNOWN"
}

write_conf() {
    local host=$1
    cat >"$CONF" <<EOF
# Written by tests/slurm/cluster.sh: a private single-node cluster for tests (no slurmdbd).
ClusterName=netregions
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$PORT
SlurmdPort=$((PORT + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$MUNGE_SOCKET
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
MpiDefault=none
MailProg=/bin/true
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/spool
SlurmctldPidFile=$STATE/ctld/slurmctld.pidfile
SlurmdPidFile=$STATE/spool/slurmd.pidfile
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/linux
JobCompType=jobcomp/filetxt
JobCompLoc=$STATE/jobcomp.log
# finished jobs stay visible to 'squeue --states=all' (the executor's status command) for 1 h
MinJobAge=3600
ReturnToService=2
SchedulerType=sched/backfill
$(node_line "$host")
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
}

# ----------------------------------------------------------------------------- commands

cancel_all_jobs() {
    # every job of this private cluster belongs to the test; bounded wait until they are gone
    [[ -f $CONF ]] && live_pid slurmctld >/dev/null || return 0
    export SLURM_CONF=$CONF
    local ids i
    ids=$(timeout 10 squeue -h -o %i 2>/dev/null | xargs) || true
    [[ -n $ids ]] || return 0
    log "cancelling jobs: $ids"
    # shellcheck disable=SC2086
    timeout 10 scancel $ids 2>/dev/null || true
    for ((i = 0; i < 60; i++)); do
        [[ -z $(timeout 10 squeue -h -o %i -t PENDING,RUNNING,COMPLETING,CONFIGURING 2>/dev/null) ]] && return 0
        sleep 0.5
    done
    log "jobs still listed after 30 s: $(timeout 10 squeue -h 2>/dev/null | xargs)"
}

cmd_stop() {
    [[ -d $STATE ]] || return 0
    cancel_all_jobs
    stop_daemon slurmd
    stop_daemon slurmctld
    stop_daemon munged
}

cmd_start() {
    need_root
    mkdir -p "$STATE"
    cmd_install
    cmd_stop # a previous run's daemons (same state dir), if any

    local host
    host=$(hostname -s)
    rm -rf "$STATE/ctld" "$STATE/spool" "$STATE/log" "$STATE/munge" "$STATE/jobcomp.log"
    mkdir -p "$STATE/ctld" "$STATE/spool" "$STATE/log" "$STATE/munge"
    chmod 755 "$STATE"

    # munge: a key and a socket of our own (the system's munged, if any, is left alone)
    id munge >/dev/null 2>&1 || die "user 'munge' missing (package munge not installed properly?)"
    # munged insists on a socket dir everybody can traverse and a private key dir
    mkdir -p "$STATE/munge/private"
    dd if=/dev/urandom of="$STATE/munge/private/munge.key" bs=1024 count=1 status=none
    chown -R munge:munge "$STATE/munge"
    chmod 755 "$STATE/munge"
    chmod 700 "$STATE/munge/private"
    chmod 400 "$STATE/munge/private/munge.key"
    # setpriv execs munged (the recorded PID is munged's own)
    start_daemon munged setpriv --reuid=munge --regid=munge --init-groups -- \
        /usr/sbin/munged --foreground --key-file="$STATE/munge/private/munge.key" \
        --socket="$MUNGE_SOCKET" --pid-file="$STATE/munge/private/munged.pid" \
        --seed-file="$STATE/munge/private/munged.seed" --log-file="$STATE/munge/private/munged.log"
    wait_for "munge credentials" munged "$START_TIMEOUT" \
        bash -c "munge -S '$MUNGE_SOCKET' -n | unmunge -S '$MUNGE_SOCKET'"

    write_conf "$host"
    mkdir -p "$STATE/bin"
    cat >"$STATE/bin/srun" <<EOF
#!/bin/sh
# see tests/slurm/cluster.sh: the SLURM jobstep plugin drops SLURM_CONF before calling srun
SLURM_CONF="$CONF" exec /usr/bin/srun "\$@"
EOF
    chmod 755 "$STATE/bin/srun"
    export SLURM_CONF=$CONF
    start_daemon slurmctld /usr/sbin/slurmctld -D -i -f "$CONF"
    wait_for "slurmctld to answer" slurmctld "$START_TIMEOUT" scontrol ping
    start_daemon slurmd /usr/sbin/slurmd -D -f "$CONF" -N "$host"
    wait_for "node $host to be idle" slurmd "$START_TIMEOUT" \
        bash -c "sinfo -h -n '$host' -o %T | grep -qx idle"
    log "cluster up: $(sinfo -h -o '%P %a %l %D %T %N %c CPUs %m MB' | xargs)"
    echo "$ENV_LINE"
}

cmd_status() {
    local name pid
    for name in munged slurmctld slurmd; do
        if pid=$(live_pid "$name"); then echo "$name: running (pid $pid)"; else echo "$name: not running"; fi
    done
    if live_pid slurmctld >/dev/null; then
        export SLURM_CONF=$CONF
        sinfo
        squeue --states=all
    fi
}

case "${1:-}" in
install) mkdir -p "$STATE" && cmd_install ;;
start) cmd_start ;;
stop) cmd_stop ;;
status) cmd_status ;;
env) echo "$ENV_LINE" ;;
*)
    echo "usage: $0 {install|start|stop|status|env}" >&2
    exit 2
    ;;
esac
