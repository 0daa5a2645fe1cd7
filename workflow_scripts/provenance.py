"""rule provenance: the report's page of what this run was made of."""
from pathlib import Path

import pandas as pd

from mwork.evaluate import engine_of
from mwork.io import file_sha256, write_table, write_text
from mwork.provenance import dumps, git_commit, machine, neuron_files, packages, provenance_markdown, runtimes
from mwork.tasks.data import TASK_DATA, files_provenance
from mwork.workflow import rule_script

with rule_script(snakemake) as log:
    smk = snakemake
    p = smk.params
    neurons = neuron_files(list(smk.input.neurons))
    fingerprints = {}
    for model, row in zip(p.neuron_models, neurons):
        fingerprints.setdefault(model, row["fingerprint"])
    models = [{"model": m, "source": spec["source"], "location": spec["location"], "revision": spec["revision"] or "",
               "fingerprint": fingerprints.get(m, "(no neuron file)"), "license": spec["license"],
               "description": " ".join(spec["description"].split())} for m, spec in p.models.items()]
    corpus = p.corpus
    detail = ", ".join(corpus.get("packages", [])) or corpus.get("dataset", "") or corpus.get("path", "")
    data = [{"what": f"corpus {corpus['name']}", "source": corpus.get("source", ""), "detail": detail}]
    data += [{"what": f"corpus file {lang}", "source": path, "detail": f"sha256 {file_sha256(path)}"}
             for lang, path in zip(p.languages, smk.input.corpus)]
    files = {}
    for model, sources in p.task_sources.items():
        for task in p.tasks:
            td, source = TASK_DATA[task], sources[task]
            where = {"hub": f"{td.path} ({td.split}, revision {td.revision or 'main'})",
                     "files": f"upstream files in {p.task_folders.get(task)}",
                     "suites": "the offline suites (results/suites/)"}[source]
            data.append({"what": f"{task} ({td.dataset}) for {model}", "source": source, "detail": where})
            if source == "files":
                files[task] = files_provenance(task, p.task_folders[task], p.task_languages[task])
    data += [{"what": f"{task} file", "source": row["file"], "detail": f"sha256 {row['sha256']}; {row['license']}"}
             for task, rows in files.items() for row in rows]
    rt = runtimes(Path("results/benchmarks"))
    info = {"commit": git_commit(Path(p.repo)),
            "machine": machine(), "packages": packages(), "models": models, "engines": [{"model": m, **engine_of(e)} for m, e in p.engines.items()],
            "data": data, "neurons": neurons,
            "runtimes": rt}
    write_text(smk.output.md, provenance_markdown(info))
    write_text(smk.output.json, dumps(info))
    write_table(pd.DataFrame(rt, columns=["stage", "job", "seconds", "max_rss_mb"]), smk.output.runtimes)
    log.info("provenance: %d models, %d neuron files, %d benchmarked jobs", len(models), len(neurons), len(rt))
