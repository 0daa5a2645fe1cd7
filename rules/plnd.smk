# PLND: language-specific neurons per (model, corpus, language), and their overlap (Figures 5/6).
# Planned here so that the DAG of every table exists; the PLND issue implements the scripts.


rule plnd:
    output:
        "results/{model}/neurons/{corpus}/{lang}.safetensors",
    input:
        model=lambda wc: model_inputs(wc.model),
        corpus="results/corpus/{corpus}/{lang}.jsonl",
        code=lib("models"),
    params:
        model=lambda wc: model_location(wc.model),
        issue="PLND issue: exact parallel neuron importance",
    log:
        "results/logs/plnd/{model}/{corpus}/{lang}.log",
    benchmark:
        "results/benchmarks/plnd/{model}/{corpus}/{lang}.tsv"
    threads: 2
    resources:
        gpu=lambda wc: int(model_spec(config, wc.model).get("gpu", False)),
    wildcard_constraints:
        lang="[a-z]{2,3}",
    conda:
        "../envs/torch.yaml"
    script:
        "../workflow_scripts/planned.py"


rule figure5:
    output:
        png="results/figure5.png",
        pdf="results/figure5.pdf",
    input:
        expand("results/{model}/neurons/{corpus}/{lang}.safetensors", model=MODELS, corpus=CORPUS, lang=EVAL_LANGS),
    params:
        issue="PLND issue: overlap of language-specific neurons (Figure 5)",
    log:
        "results/logs/figure5.log",
    conda:
        "../envs/core.yaml"
    script:
        "../workflow_scripts/planned.py"
