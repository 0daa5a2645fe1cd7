# The report's provenance page: what this run was made of (machine, packages, models, data, neuron
# files, per-job run times). It reads every other target, so it is written last.


rule provenance:
    output:
        md=report("results/provenance.md", caption="../report/provenance.rst", category="Provenance"),
        json="results/provenance.json",
        runtimes="results/runtimes.csv",
    input:
        targets=implemented_targets(),
        neurons=expand("results/{model}/neurons/{corpus}/{lang}.safetensors", model=MODELS, corpus=CORPUS,
                       lang=EVAL_LANGS),
        corpus=expand("results/corpus/{corpus}/{lang}.jsonl", corpus=CORPUS, lang=LANGS),
        code=code_of("provenance"),
    params:
        models={m: {**model_params(m), **{k: model_spec(config, m).get(k) or "" for k in ("source", "description", "license")}}
                for m in dict.fromkeys(MODELS + EVAL_MODELS)},
        task_sources={m: {t: task_source(m, t) for t in TASKS} for m in EVAL_MODELS},
        task_folders={t: task_folder(t) for t in TASKS},
        task_languages={t: eval_langs(m, t, extra=True) for m in EVAL_MODELS[:1] for t in TASKS},
        tasks=TASKS,
        engines={m: model_engine(m) for m in dict.fromkeys(EVAL_MODELS + ENHANCE_MODELS)},
        corpus={"name": CORPUS, **config["corpora"][CORPUS]},
        languages=LANGS,
        repo=repo_file("."),
        neuron_models=[m for m in MODELS for _ in EVAL_LANGS],
    log:
        "results/logs/provenance.log",
    conda:
        "../envs/torch.yaml"
    script:
        "../workflow_scripts/provenance.py"
