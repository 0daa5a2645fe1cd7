# Figures 1 and 7: the language of each layer's hidden states (logit lens + CLD3), given queries in each language.

LENS_MODELS = config["lens"].get("models") or MODELS


rule language_ratio:
    output:
        csv="results/lens/{model}.csv",
    input:
        model=lambda wc: model_inputs(wc.model),
        queries=lambda wc: query_files(wc.model, config["lens"]["queries"]),
        code=code_of("language_ratio"),
    params:
        model=lambda wc: model_params(wc.model),
        languages=EVAL_LANGS,
        queries=lambda wc: query_source(wc.model, config["lens"]["queries"]),
        per_task=config["lens"]["per_task"],
        n_docs=config["lens"]["n_docs"],
        batch_size=config["lens"]["batch_size"],
        max_length=config["lens"]["max_length"],
        last=config["lens"]["last"],
        top_k=config["lens"]["top_k"],
    log:
        "results/logs/language_ratio_{model}.log",
    threads: 2
    resources:
        gpu=lambda wc: int(model_spec(config, wc.model).get("gpu", False)),
        mem_mb=lambda wc: model_mem_mb(wc.model),
    conda:
        "../envs/torch.yaml"
    script:
        "../workflow_scripts/language_ratio.py"


rule lens_stages:
    output:
        stages="results/{model}/lens_stages.json",
    input:
        counts="results/lens/{model}.csv",
        code=code_of("lens_stages"),
    params:
        languages=EVAL_LANGS,
    log:
        "results/logs/lens_stages/{model}.log",
    conda:
        "../envs/torch.yaml"  # mwork.lens imports torch
    script:
        "../workflow_scripts/lens_stages.py"


rule figure1:
    input:
        counts=expand("results/lens/{model}.csv", model=LENS_MODELS),
        code=code_of("figure1"),
    output:
        csv="results/figure1.csv",
        png=report("results/figure1.png", caption="../report/figure1.rst", category="Multilingual workflow"),
        pdf="results/figure1.pdf",
        png7=report("results/figure7.png", caption="../report/figure7.rst", category="Multilingual workflow"),
        pdf7="results/figure7.pdf",
    params:
        top=config["lens"]["top_languages"],
    log:
        "results/logs/figure1.log",
    conda:
        "../envs/torch.yaml"  # mwork.lens imports torch
    script:
        "../workflow_scripts/figure1.py"
