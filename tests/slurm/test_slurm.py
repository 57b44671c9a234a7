"""The workflow on a real single-node SLURM cluster, compared with a local run.

The session fixture starts a private cluster with ``tests/slurm/cluster.sh`` (installs munge and
SLURM with apt-get if missing; needs root) and stops exactly the daemons it started afterwards.
The tiny synthetic dataset of the workflow tests then runs twice: ``--cores 2`` locally and
``--workflow-profile profiles/slurm`` through SLURM; every NIfTI data array and every TSV must be
identical.

By default (CI) SLURM runs the workflow up to the network maps (``results/group/components.nii.gz``:
data generation, per-run jobs, QC, group mask, the threaded decomposition): 2-3 minutes on
2 cores. ``NETREGIONS_SLURM_FULL=1`` sends every rule through SLURM: 3-4 minutes.

    tests/slurm/run_slurm_test.sh            # reduced
    tests/slurm/run_slurm_test.sh --full     # full
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import yaml

from ..workflow.conftest import REPO, SNAKEMAKE, snakemake, write_config

pytestmark = pytest.mark.slurm

CLUSTER = Path(__file__).with_name("cluster.sh")
STATE = Path(os.environ.get("NETREGIONS_SLURM_DIR", "/tmp/netregions-slurm"))
PROFILE = REPO / "profiles" / "slurm"
FULL = os.environ.get("NETREGIONS_SLURM_FULL", "0") not in ("", "0")
#: Reduced form: everything the network maps need; the full form: the default target.
TARGETS = [] if FULL else ["results/group/components.nii.gz"]
RUN_TIMEOUT = 1200 if FULL else 600  # seconds
#: As users give account and partition (the test cluster has no accounts; its partition: debug).
#: Last on the command line: --default-resources takes every following word as a resource.
CLUSTER_ARGS = ["--default-resources", "slurm_partition=debug"]


# --------------------------------------------------------------------------- the cluster


def _cluster(command: str, timeout: float) -> subprocess.CompletedProcess:
    env = {**os.environ, "NETREGIONS_SLURM_DIR": str(STATE)}
    return subprocess.run(
        ["bash", str(CLUSTER), command], capture_output=True, text=True, env=env, timeout=timeout
    )


@pytest.fixture(scope="session")
def cluster():
    """A running single-node cluster; yields the environment for SLURM clients."""
    try:
        started = _cluster("start", timeout=900)
    except subprocess.TimeoutExpired as error:
        _cluster("stop", timeout=120)
        pytest.fail(f"tests/slurm/cluster.sh start timed out: {error.stderr}", pytrace=False)
    if started.returncode != 0:
        _cluster("stop", timeout=120)
        pytest.fail(
            "could not start the SLURM test cluster (tests/slurm/cluster.sh needs root and apt-get"
            " access to Debian's slurmctld, slurmd, slurm-client and munge; deselect with"
            f' -m "not slurm"):\n{started.stderr}',
            pytrace=False,
        )
    env = {
        **os.environ,
        "SLURM_CONF": str(STATE / "slurm.conf"),
        "PATH": f"{STATE / 'bin'}{os.pathsep}{os.environ['PATH']}",
        "PYTHONWARNINGS": "ignore",
    }
    try:
        yield env
    finally:
        stopped = _cluster("stop", timeout=180)
        assert stopped.returncode == 0, stopped.stderr


def _squeue(env: dict, *args: str) -> list[list[str]]:
    out = subprocess.run(
        ["squeue", "--noheader", "--states=all", "--format=%i|%T|%k", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
        check=True,
    ).stdout
    return [line.split("|", 2) for line in out.splitlines() if line.strip()]


def _scancel_run(env: dict, run_id: str | None) -> None:
    if run_id:
        subprocess.run(["scancel", "--name", run_id], env=env, timeout=30, check=False)


def _jobcomp() -> dict[str, dict[str, str]]:
    """The job completion log (one line of key=value fields per finished job), by job id."""
    records = {}
    path = STATE / "jobcomp.log"
    for line in path.read_text().splitlines() if path.exists() else []:
        fields = dict(f.split("=", 1) for f in line.split() if "=" in f)
        records[fields["JobId"]] = fields
    return records


# --------------------------------------------------------------------------- runs


def run_on_slurm(workdir: Path, env: dict, *args: str, timeout: float = RUN_TIMEOUT):
    """Run the workflow through the SLURM profile; on a timeout or interrupt, cancel its jobs.

    Returns (return code, Snakemake's output, the run id = SLURM job name).
    """
    cmd = [
        SNAKEMAKE,
        "-s",
        str(REPO / "Snakefile"),
        "--directory",
        str(workdir),
        "--workflow-profile",
        str(PROFILE),
        "--slurm-keep-successful-logs",
        *args,
    ]
    log = workdir / "snakemake-slurm.out"
    with log.open("w") as out:
        proc = subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
        try:
            returncode = proc.wait(timeout=timeout)
        except BaseException:  # timeout, KeyboardInterrupt: leave nothing queued or running
            abort(proc, log, env)
            raise
    text = log.read_text()
    return returncode, text, _run_id(text)


def abort(proc: subprocess.Popen, log: Path, env: dict, grace: float = 30) -> None:
    """Stop a SLURM run: SIGINT (Snakemake cancels its jobs), SIGKILL after `grace`, scancel."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # its own session: Snakemake and its children
            proc.wait(timeout=30)
    _scancel_run(env, _run_id(log.read_text()))


def _run_id(text: str) -> str | None:
    match = re.search(r"SLURM run ID: (\S+)", text)
    return match.group(1) if match else None


def _job_stats(text: str) -> dict[str, int]:
    """Rule -> number of jobs, from the first "Job stats" table of a Snakemake run."""
    lines = text.split("Job stats:", 1)[1].splitlines()
    counts = {}
    for line in lines[3:]:
        parts = line.split()
        if len(parts) != 2 or parts[0] == "total":
            break
        counts[parts[0]] = int(parts[1])
    return counts


@pytest.fixture(scope="module")
def runs(tmp_path_factory, cluster):
    """The tiny dataset run locally (--cores 2) and through SLURM; both work dirs + SLURM info."""
    timings = {}
    local = tmp_path_factory.mktemp("local")
    write_config(local)
    start = time.perf_counter()
    snakemake(local, "--cores", "2", *TARGETS)
    timings["local"] = time.perf_counter() - start

    remote = tmp_path_factory.mktemp("slurm")
    write_config(remote)
    start = time.perf_counter()
    returncode, text, run_id = run_on_slurm(remote, cluster, *TARGETS, *CLUSTER_ARGS)
    timings["slurm"] = time.perf_counter() - start
    print(
        f"\nwall times ({'full' if FULL else 'reduced'}): "
        + ", ".join(f"{k} {v:.0f} s" for k, v in timings.items())
    )
    if returncode != 0:
        _scancel_run(cluster, run_id)
        pytest.fail(f"SLURM run failed ({returncode}):\n{text[-20000:]}", pytrace=False)
    return {"local": local, "slurm": remote, "text": text, "run_id": run_id, "env": cluster}


# --------------------------------------------------------------------------- checks


def test_jobs_went_through_slurm(runs):
    text, run_id, workdir = runs["text"], runs["run_id"], runs["slurm"]
    assert run_id, "no 'SLURM run ID' in Snakemake's output"
    submitted = re.findall(r"submitted with SLURM jobid (\d+)", text)
    assert submitted and len(set(submitted)) == len(submitted)

    # every submitted job finished in SLURM: the job completion log and squeue agree
    records = {k: v for k, v in _jobcomp().items() if v.get("Name") == run_id}
    assert set(records) == set(submitted)
    assert {r["JobState"] for r in records.values()} == {"COMPLETED"}
    assert {r["Partition"] for r in records.values()} == {"debug"}
    queue = {job_id: (state, comment) for job_id, state, comment in _squeue(runs["env"])}
    assert {queue[j][0] for j in submitted} == {"COMPLETED"}

    # every rule but the target-only default rule ran in a SLURM job, with its log kept
    stats = _job_stats(text)
    logs = workdir / ".snakemake" / "slurm_logs"
    local = {"default", "all", "provenance", "dataset_description"}  # run on the submit host
    for rule in stats:
        if rule in local:
            continue
        dirs = [d.name for d in logs.iterdir() if d.name == f"rule_{rule}" or rule in d.name]
        assert dirs, f"no SLURM log for rule {rule} in {sorted(p.name for p in logs.iterdir())}"

    # one SLURM job per Snakemake job (the profile makes no group jobs); per-run stages have
    # one job per run under one rule name
    profile = yaml.safe_load((PROFILE / "config.yaml").read_text())
    assert "group-components" not in profile
    expected = sum(n for rule, n in stats.items() if rule not in local)
    assert len(submitted) == expected, (stats, len(submitted))
    assert stats["preprocess_subject"] == 3, stats

    # requests: threads -> CPUs, mem_mb and runtime from the rules or the profile's
    # set-resources (not lost to --default-resources); groups capped at `cores`
    for job_id in submitted:
        tres = dict(kv.split("=") for kv in records[job_id]["Tres"].split(","))
        comment = queue[job_id][1]
        assert int(tres["cpu"]) <= profile["cores"], (comment, tres)
        assert records[job_id]["TimeLimit"] != "UNLIMITED", comment
        assert tres["mem"].endswith("M") and int(tres["mem"][:-1]) < 10000, (comment, tres)
        if comment.startswith("rule_decompose"):
            assert tres["cpu"] == "2", tres


def test_slurm_profile_keeps_the_default_profile_settings():
    """A run reads one workflow profile: profiles/slurm must repeat what profiles/default sets."""
    default = yaml.safe_load((REPO / "profiles" / "default" / "config.yaml").read_text())
    slurm = yaml.safe_load((PROFILE / "config.yaml").read_text())
    assert default
    assert {key: slurm.get(key) for key in default} == default


def test_user_profile_account_and_partition_pass_through(tmp_path):
    """A user profile's default-resources survive the workflow profile (dry run, no cluster)."""
    user = tmp_path / "user-profile"
    user.mkdir()
    (user / "config.yaml").write_text(
        "default-resources:\n  slurm_account: research\n  slurm_partition: compute\n"
    )
    workdir = tmp_path / "run"
    workdir.mkdir()
    write_config(workdir)
    out = snakemake(workdir, "-n", "--profile", str(user), "--workflow-profile", str(PROFILE))
    requests, rule = {}, None
    for line in out.stdout.splitlines():
        if re.match(r"(local)?(rule|checkpoint) \w+:", line):
            rule = line.split()[-1].rstrip(":")
        elif line.strip().startswith("resources:") and rule:
            requests[rule] = line
    # local rules run on the submit host: the targets (no action) and those marked localrule
    local = {"default", "all"} | _marked_local_rules()
    requests = {rule: line for rule, line in requests.items() if rule not in local}
    assert {"load_subject", "decompose", "subject_timeseries"} <= set(requests)
    for rule, line in requests.items():
        assert "slurm_account=research" in line and "slurm_partition=compute" in line, line
        assert "runtime=" in line, f"{rule} has no time request: {line}"


def _marked_local_rules() -> set[str]:
    """Rules whose definition says ``localrule: True``, read from the workflow's files."""
    names = set()
    for path in (REPO / "workflow").rglob("*.smk"):
        for block in re.split(r"\n\s*(?=(?:rule|checkpoint) \w+:)", path.read_text()):
            match = re.match(r"\s*(?:rule|checkpoint) (\w+):", block)
            if match and "localrule: True" in block:
                names.add(match.group(1))
    return names


def _outputs(workdir: Path) -> set[Path]:
    """Data outputs to compare: NIfTI images and TSV tables (not benchmarks: run times)."""
    return {
        p.relative_to(workdir)
        for p in workdir.rglob("*")
        if p.is_file()
        and (p.name.endswith((".nii.gz", ".nii")) or p.suffix == ".tsv")
        and ".snakemake" not in p.parts
        and "benchmarks" not in p.parts
    }


def test_outputs_equal_the_local_run(runs):
    local, remote = runs["local"], runs["slurm"]
    names = _outputs(local)
    assert names and names == _outputs(remote)
    assert Path("results/group/components.nii.gz") in names
    different = []
    for name in sorted(names):
        a, b = local / name, remote / name
        if name.suffix == ".tsv":
            same = a.read_bytes() == b.read_bytes()
        else:
            img_a, img_b = nib.load(a), nib.load(b)
            x, y = np.asanyarray(img_a.dataobj), np.asanyarray(img_b.dataobj)
            same = (
                x.dtype == y.dtype
                and x.shape == y.shape
                and np.array_equal(x, y, equal_nan=x.dtype.kind == "f")
                and np.array_equal(img_a.affine, img_b.affine)
            )
        if not same:
            different.append(str(name))
    assert not different, f"SLURM outputs differ from the local run: {different}"


def test_an_interrupted_run_leaves_no_jobs(tmp_path, cluster):
    """Ctrl-C (SIGINT) while jobs are queued or running: the run's SLURM jobs are cancelled."""
    write_config(tmp_path)
    log = tmp_path / "snakemake-slurm.out"
    cmd = [SNAKEMAKE, "-s", str(REPO / "Snakefile"), "--directory", str(tmp_path)]
    cmd += ["--workflow-profile", str(PROFILE)]
    with log.open("w") as out:
        proc = subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, env=cluster, start_new_session=True
        )
        try:
            deadline = time.monotonic() + 120
            while "submitted with SLURM jobid" not in log.read_text():
                assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
                time.sleep(0.5)
        finally:
            abort(proc, log, cluster)
    run_id = _run_id(log.read_text())
    deadline = time.monotonic() + 60
    while True:
        active = [s for _, s, _ in _squeue(cluster, "--name", run_id) if s not in _ENDED]
        if not active or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert not active, active


_ENDED = {"COMPLETED", "CANCELLED", "FAILED", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL"}
