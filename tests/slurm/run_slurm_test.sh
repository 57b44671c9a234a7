#!/usr/bin/env bash
# The SLURM test on its own: start a private single-node cluster (tests/slurm/cluster.sh, as
# root; installs munge and SLURM with apt-get if needed), run the tiny workflow through
# `--workflow-profile profiles/slurm` and locally, compare the outputs, stop the cluster.
#
#   tests/slurm/run_slurm_test.sh           reduced form (as in CI): SLURM up to the network maps
#   tests/slurm/run_slurm_test.sh --full    every rule through SLURM
#   tests/slurm/run_slurm_test.sh --full -x -k outputs    extra arguments go to pytest
#
# The cluster is started and stopped by the pytest session fixture, also when a test fails.
# After a hard kill (SIGKILL) of pytest, `tests/slurm/cluster.sh stop` (or the next start)
# stops the leftover daemons by their recorded PIDs.
set -euo pipefail
cd "$(dirname "$0")/../.."

if [[ ${1:-} == --full ]]; then
    export NETREGIONS_SLURM_FULL=1
    shift
fi
PYTHON=${PYTHON:-.venv/bin/python}
exec "$PYTHON" -m pytest tests/slurm -m slurm -v -s -p no:cacheprovider "$@"
