# Figures 1 and 7: the language of each layer's hidden states (logit lens + CLD3), given queries in each language.

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


rule known_lens:
    output:
        csv="results/lens_known/{model}.csv",
        kept="results/lens_known/{model}.items.json",
    input:
        model=lambda wc: model_inputs(wc.model),
        data=lambda wc: [f for lang in known_lens_languages(wc.model) for f in task_inputs(wc.model, "understanding", lang)],
        code=code_of("known_lens"),
        configured=configured(model=(KNOWN_LENS_MODELS, "config.lens.known.models")),
    params:
        model=lambda wc: model_params(wc.model),
        languages=lambda wc: known_lens_languages(wc.model),
        source=lambda wc: task_source(wc.model, "understanding"),
        folder=lambda wc: task_folder("understanding"),
        dataset=config["eval"]["datasets"].get("understanding", {}),
        chat_template=lambda wc: model_spec(config, wc.model).get("chat_template", False),
        n_items=config["lens"]["known"]["n_items"],
        batch_size=config["lens"]["known"]["batch_size"],
        max_context_tokens=config["lens"]["known"]["max_context_tokens"],
        seed=config["seed"],
    log:
        "results/logs/known_lens/{model}.log",
    benchmark:
        "results/benchmarks/known_lens/{model}.tsv"
    threads: 2
    resources:
        gpu=lambda wc: int(model_spec(config, wc.model).get("gpu", False)),
        mem_mb=lambda wc: model_mem_mb(wc.model),
    conda:
        "../envs/torch.yaml"
    script:
        "../workflow_scripts/known_lens.py"


rule figure1_known:
    input:
        probs=expand("results/lens_known/{model}.csv", model=KNOWN_LENS_MODELS),
        code=code_of("figure1_known"),
    output:
        csv="results/figure1_known.csv",
        png=report("results/figure1_known.png", caption="../report/figure1_known.rst", category="Multilingual workflow"),
        pdf="results/figure1_known.pdf",
    params:
        seed=config["seed"],
        min_prob=config["lens"]["known"]["min_prob"],
    log:
        "results/logs/figure1_known.log",
    conda:
        "../envs/torch.yaml"
    script:
        "../workflow_scripts/figure1_known.py"


rule lens_stages:
    output:
        stages="results/{model}/lens_stages.json",
    input:
        counts=lambda wc: f"results/lens_known/{wc.model}.csv" if STAGES_FROM_KNOWN else f"results/lens/{wc.model}.csv",
        code=code_of("lens_stages"),
    params:
        languages=EVAL_LANGS,
        known=STAGES_FROM_KNOWN,
        min_prob=config["lens"]["known"]["min_prob"],
        seed=config["seed"],
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
