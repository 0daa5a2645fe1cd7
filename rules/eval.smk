# One evaluation rule for every (model, task, language, setting); Table 11 is the `original` setting.
# A setting is `original` or `<name>@<X>`: the deactivation `name` (config.deactivation.settings) of
# language X's neurons.


rule evaluate:
    output:
        scores="results/eval/{model}/{task}/{lang}/{setting}.json",
        predictions="results/eval/{model}/{task}/{lang}/{setting}.predictions.jsonl",
    input:
        **eval_inputs("results/eval"),
        code=code_of("evaluate"),
    params:
        model=lambda wc: model_params(wc.model),
        source=lambda wc: task_source(wc.model, wc.task),
        folder=lambda wc: task_folder(wc.task) if task_source(wc.model, wc.task) == "files" else None,
        chat_template=lambda wc: model_spec(config, wc.model).get("chat_template", False),
        generation=lambda wc: config["eval"]["generation"].get(wc.task, {}),
        batch_size=config["eval"]["batch_size"],
        engine=lambda wc: eval_engine(wc.model, wc.setting),
        n_items=lambda wc: per_key(config["eval"]["n_items"], wc.task, "all"),
        dataset=lambda wc: config["eval"]["datasets"].get(wc.task, {}),
        seed=config["seed"],
        deactivation=lambda wc: setting_params(wc.model, wc.setting),
        holdout=lambda wc: tuning_holdout(wc.task, "rest"),
        cache=config["eval"].get("cache", True),
    log:
        "results/logs/eval/{model}/{task}/{lang}/{setting}.log",
    benchmark:
        "results/benchmarks/eval/{model}/{task}/{lang}/{setting}.tsv"
    threads: lambda wc: 2 if model_spec(config, wc.model).get("gpu") else 1  # the organism: one job per core
    resources:
        gpu=lambda wc: int(model_spec(config, wc.model).get("gpu", False)),
        mem_mb=lambda wc: model_mem_mb(wc.model),
    wildcard_constraints:
        task="|".join(TASK_ORDER),
        setting=Setting.PATTERN,
    conda:
        "../envs/torch.yaml"
    script:
        "../workflow_scripts/evaluate.py"


# The stage tuning's own evaluations when stage_tuning.n_items holds its items out (Appendix H on a held-out
# slice): the same job on those items only, under results/eval_tuning/
use rule evaluate as evaluate_tuning with:
    output:
        scores="results/eval_tuning/{model}/{task}/{lang}/{setting}.json",
        predictions="results/eval_tuning/{model}/{task}/{lang}/{setting}.predictions.jsonl",
    input:
        **eval_inputs("results/eval_tuning"),
        code=code_of("evaluate"),
    params:
        n_items="all",
        holdout=lambda wc: tuning_holdout(wc.task, "tuning") or tuning_not_held_out(),
    log:
        "results/logs/eval_tuning/{model}/{task}/{lang}/{setting}.log",
    benchmark:
        "results/benchmarks/eval_tuning/{model}/{task}/{lang}/{setting}.tsv"


rule table11:
    output:
        csv=report("results/table11.csv", caption="../report/table11.rst", category="Tables"),
        md="results/table11.md",
    input:
        scores=lambda wc: baseline_scores(),
        code=code_of("table11"),
    params:
        models=EVAL_MODELS,
        tasks=TASKS,
        languages=EVAL_LANGS,
        extra=config["eval"].get("extra_languages") or {},
    log:
        "results/logs/table11.log",
    conda:
        "../envs/core.yaml"
    script:
        "../workflow_scripts/table11.py"


rule table10:
    output:
        csv=report("results/table10.csv", caption="../report/table10.rst", category="Tables"),
        md="results/table10.md",
    input:
        code=code_of("table10"),
    params:
        tasks=TASKS,
        languages=EVAL_LANGS,
        models={m: bool(model_spec(config, m).get("chat_template", False)) for m in EVAL_MODELS},
        # by task in a fixed order: the config's key order depends on how the config files were merged
        generation={t: config["eval"]["generation"].get(t, {}) for t in TASKS},
        task_languages=lambda wc: {t: eval_langs(m, t, extra=True) for m in EVAL_MODELS[:1] for t in TASKS},
    log:
        "results/logs/table10.log",
    conda:
        "../envs/core.yaml"
    script:
        "../workflow_scripts/table10.py"
