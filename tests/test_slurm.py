"""The tiny config through a real SLURM: Debian's slurm-wlm on this one machine, the workflow profile
profiles/slurm and snakemake-executor-plugin-slurm, as a user would submit it to a cluster.

The fixture installs slurm-wlm and munge when they are missing (CI runs as root), writes a single-node
slurm.conf (cons_tres, no accounting database, no cgroups), starts munged, slurmctld and slurmd, and
stops the daemons it started and removes the config it wrote. Where that is impossible the tests are
skipped with the reason (make test prints it: pytest -rs), never silently.
"""
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

STATE = Path("/tmp/mwork-slurm")


def _run(*cmd, **kw):
    return subprocess.run(list(cmd), capture_output=True, text=True, **kw)


def _install() -> str | None:
    """None when sbatch, slurmctld, slurmd and munged are there (installed if need be), else why not."""
    tools = ("sbatch", "slurmctld", "slurmd", "munged")
    if all(shutil.which(t) for t in tools):
        return None
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return "slurm-wlm is not installed and this is not a root Debian/Ubuntu machine to install it on"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    try:
        out = _run("apt-get", "install", "-y", "-q", "slurm-wlm", "munge", env=env, timeout=600)
        if out.returncode != 0:
            out = _run("sh", "-c", "apt-get update -q && apt-get install -y -q slurm-wlm munge", env=env, timeout=600)
    except subprocess.TimeoutExpired:
        return "installing slurm-wlm and munge took more than 10 minutes"
    if out.returncode != 0 or not all(shutil.which(t) for t in tools):
        return f"installing slurm-wlm and munge failed: {out.stderr[-300:]}"
    return None


def _conf(host: str) -> str:
    mem = int(int(Path("/proc/meminfo").read_text().split()[1]) / 1024 * 0.8)
    return f"""ClusterName=mwork
SlurmctldHost={host}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation={STATE}/state
SlurmdSpoolDir={STATE}/spool
SlurmctldPidFile={STATE}/slurmctld.pid
SlurmdPidFile={STATE}/slurmd.pid
SlurmctldLogFile={STATE}/slurmctld.log
SlurmdLogFile={STATE}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
MpiDefault=none
NodeName={host} CPUs={os.cpu_count()} RealMemory={mem} State=UNKNOWN
PartitionName=debug Nodes={host} Default=YES MaxTime=INFINITE State=UP
"""


@pytest.fixture(scope="module")
def slurm(request):
    why = _install()
    if why:
        pytest.skip(f"no SLURM: {why}")
    started, wrote = [], []

    def stop():
        for daemon in reversed(started):
            _run("pkill", "-x", daemon)
        # and the cluster's config goes with its daemons: a slurm.conf whose controller does not answer makes
        # every later `snakemake` wait ~10 s (the SLURM plugin asks `scontrol show config` when it is imported)
        for conf in wrote:
            conf.unlink(missing_ok=True)

    request.addfinalizer(stop)  # also when a skip below ends the setup halfway
    if not _run("sinfo", "-h").stdout.strip():  # no cluster answering: set one up on this machine
        if os.geteuid() != 0:
            pytest.skip("no SLURM: no cluster answers sinfo, and starting one needs root")
        for d in ("state", "spool"):
            (STATE / d).mkdir(parents=True, exist_ok=True)
        conf = Path("/etc/slurm/slurm.conf")
        if conf.exists() and not conf.read_text().startswith("ClusterName=mwork"):
            pytest.skip("no SLURM: /etc/slurm/slurm.conf belongs to another cluster and sinfo gets no answer")
        conf.parent.mkdir(parents=True, exist_ok=True)
        wrote.append(conf)
        conf.write_text(_conf(_run("hostname", "-s").stdout.strip()))
        Path("/run/munge").mkdir(parents=True, exist_ok=True)
        _run("chown", "-R", "munge:", "/etc/munge", "/run/munge", "/var/lib/munge", "/var/log/munge")
        for daemon, args in (("munged", ["--force"]), ("slurmctld", []), ("slurmd", [])):
            if _run("pgrep", "-x", daemon).returncode != 0:
                out = _run(daemon, *args)
                if out.returncode != 0:
                    pytest.skip(f"no SLURM: {daemon} did not start: {out.stderr[-300:]}")
                started.append(daemon)
        for _ in range(30):
            if "idle" in _run("sinfo", "-h", "-o", "%t").stdout:
                break
            time.sleep(1)
        else:
            pytest.skip(f"no SLURM: the node did not come up ({_run('sinfo').stdout})")
    yield


def _cmd(root, work, *args, configs=()):
    return [sys.executable, "-m", "snakemake", "-s", str(root / "Snakefile"), "--directory", str(work),
            "--executor", "slurm", "--workflow-profile", str(root / "profiles" / "slurm"), "--slurm-no-account",
            "--slurm-status-command", "squeue", "--slurm-init-seconds-before-status-checks", "1",
            "--slurm-keep-successful-logs", "--latency-wait", "5", *args, "--configfile", str(root / "config.yaml"),
            str(root / "tests" / "config" / "tiny.yaml"), *map(str, configs)]


ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "MPLBACKEND": "Agg"}


def _snakemake(root, work, *args, check=True, configs=()):
    cmd = _cmd(root, work, *args, configs=configs)
    proc = subprocess.run(cmd, cwd=work, env=ENV, capture_output=True, text=True, timeout=900)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


@pytest.fixture(scope="module")
def work(root, tmp_path_factory):
    work = tmp_path_factory.mktemp("slurm")
    (work / ".cache").mkdir()
    (work / ".cache" / "wheels").symlink_to(root / ".cache" / "wheels")
    return work


def test_the_tiny_dag_runs_as_slurm_jobs(slurm, root, work):
    out = _snakemake(root, work, "results/figure5.png", "results/table7.csv")
    res = work / "results"
    assert (res / "figure5.png").stat().st_size > 500 and (res / "table7.csv").exists()
    assert (res / "organism" / "neurons" / "catalogs" / "zh.safetensors").exists()
    text = out.stdout + out.stderr
    # built by SLURM jobs: a SLURM job id per submitted job, and its SLURM log kept, by rule
    submitted = re.findall(r"has been submitted with SLURM jobid (\d+) \(log: (\S+)\)", text)
    assert submitted, text[-2000:]
    rules = {re.search(r"slurm_logs/(rule_\w+)/", log).group(1) for _, log in submitted}
    assert {"rule_corpus", "rule_plnd", "rule_organism_train"} <= rules, sorted(rules)
    assert all(Path(log).exists() for _, log in submitted)
    assert "rule_figure5" not in rules and "rule_table7" not in rules  # localrules: on the submitting node


def test_a_cancelled_job_leaves_nothing_finished_and_a_rerun_completes(slurm, root, work):
    target = work / "results" / "organism" / "neurons" / "catalogs" / "fr.safetensors"
    _snakemake(root, work, "results/corpus/catalogs/fr.jsonl", "results/organism/model")  # so PLND is the one job
    cmd = _cmd(root, work, str(target.relative_to(work)))
    proc = subprocess.Popen(cmd, cwd=work, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    job = None
    for _ in range(1200):  # Snakemake builds the DAG, then submits the PLND job
        ids = _run("squeue", "-h", "-o", "%i").stdout.split()
        if ids or proc.poll() is not None:
            job = ids[0] if ids else None
            break
        time.sleep(0.5)
    assert job, f"no SLURM job appeared: {proc.communicate()[0][-2000:] if proc.poll() is not None else ''}"
    time.sleep(1)
    assert job in _run("squeue", "-h", "-o", "%i").stdout.split(), "the PLND job ended before it could be cancelled"
    _run("scancel", job)
    proc.communicate(timeout=600)
    assert proc.returncode != 0 and not target.exists()
    assert not list(target.parent.glob(".fr.safetensors.*"))  # no temporary file left behind either
    _snakemake(root, work, str(target.relative_to(work)))
    assert target.exists()


def test_keep_going_keeps_what_the_other_jobs_built(slurm, root, work, tmp_path):
    bad = tmp_path / "bad.yaml"
    # Thai's corpus is read from a folder that does not exist: that job fails, the others finish
    bad.write_text("corpora:\n  catalogs:\n    source: local\n    path: /nonexistent/corpus\n", encoding="utf-8")
    out = _snakemake(root, work, "results/corpus/catalogs/th.jsonl", "results/suites/world.json", "--keep-going",
                     "--forcerun", "suites", check=False, configs=[bad])
    assert out.returncode != 0
    assert (work / "results" / "suites" / "world.json").exists()
