# One evaluation rule for every (model, task, language, setting); Table 11 is the `original` setting.
# Planned here so that the DAG of every table exists; the evaluation-harness issue implements it.


rule evaluate:
    output:
        scores="results/eval/{model}/{task}/{lang}/{setting}.json",
        predictions="results/eval/{model}/{task}/{lang}/{setting}.predictions.jsonl",
    input:
        model=lambda wc: model_inputs(wc.model),
        data=lambda wc: task_inputs(wc.model, wc.task, wc.lang),
        neurons=lambda wc: setting_inputs(wc.model, wc.setting),
        code=lib("models"),
    params:
        model=lambda wc: model_location(wc.model),
        issue="evaluation-harness issue",
    log:
        "results/logs/eval/{model}/{task}/{lang}/{setting}.log",
    benchmark:
        "results/benchmarks/eval/{model}/{task}/{lang}/{setting}.tsv"
    threads: 2
    resources:
        gpu=lambda wc: int(model_spec(config, wc.model).get("gpu", False)),
    wildcard_constraints:
        lang="[a-z]{2,3}",
        task="reasoning|understanding|knowledge|generation",
    conda:
        "../envs/torch.yaml"
    script:
        "../workflow_scripts/planned.py"


rule table11:
    output:
        csv="results/table11.csv",
        md="results/table11.md",
    input:
        expand("results/eval/{model}/{task}/{lang}/original.json", model=MODELS, task=TASKS, lang=EVAL_LANGS),
    params:
        issue="evaluation-harness issue: Table 11",
    log:
        "results/logs/table11.log",
    conda:
        "../envs/core.yaml"
    script:
        "../workflow_scripts/planned.py"
