# Enhancement: tune only a language's neurons, against random neurons and LoRA with as many
# parameters; held-out perplexity of every language before and after; task scores of every tuning (Figure 4,
# Table 6). The grid is mwork.config.enhance_grid; each job gets only the settings it uses, so editing
# another language's sizes reruns nothing here.

rule enhance_base:
    output:
        "results/{model}/enhance/base.json",
    input:
        model=lambda wc: model_inputs(wc.model),
        heldout=expand("results/corpus/{corpus}/{lang}.jsonl", corpus=ENHANCE["corpus"], lang=PPL_LANGS),
        code=code_of("enhance_base"),
    params:
        model=lambda wc: model_params(wc.model),
        languages=PPL_LANGS,
        perplexity=ENHANCE["perplexity"],
    log:
        "results/logs/enhance/{model}/base.log",
    threads: 2
    resources:
        gpu=lambda wc: int(model_spec(config, wc.model).get("gpu", False)),
        mem_mb=lambda wc: model_mem_mb(wc.model),
    conda:
        "../envs/torch.yaml"
    script:
        "../workflow_scripts/enhance_base.py"


rule enhance:
    output:
        delta="results/{model}/enhance/{lang}/{variant}.safetensors",
        result="results/{model}/enhance/{lang}/{variant}.json",
    input:
        model=lambda wc: model_inputs(wc.model),
        neurons=f"results/{{model}}/neurons/{CORPUS}/{{lang}}.safetensors",
        corpus=f"results/corpus/{ENHANCE['corpus']}/{{lang}}.jsonl",
        heldout=expand("results/corpus/{corpus}/{lang}.jsonl", corpus=ENHANCE["corpus"], lang=PPL_LANGS),
        code=code_of("enhance"),
        configured=lambda wc: planned_finetuning(wc.model, wc.lang, wc.variant),
    params:
        model=lambda wc: model_params(wc.model),
        languages=PPL_LANGS,
        corpus=ENHANCE["corpus"],
        train=ENHANCE["train"],
        perplexity=ENHANCE["perplexity"],
        seed=config["seed"],
    log:
        "results/logs/enhance/{model}/{lang}/{variant}.log",
    benchmark:
        "results/benchmarks/enhance/{model}/{lang}/{variant}.tsv"
    threads: 2
    resources:
        gpu=lambda wc: int(model_spec(config, wc.model).get("gpu", False)),
        mem_mb=lambda wc: model_mem_mb(wc.model),
    wildcard_constraints:
        variant=Variant.PATTERN,
    conda:
        "../envs/torch.yaml"
    script:
        "../workflow_scripts/enhance.py"


rule enhance_summary:
    output:
        csv="results/enhance_perplexity.csv",
        png=report("results/enhance_perplexity.png", caption="../report/enhance_perplexity.rst", category="Enhancement"),
        pdf="results/enhance_perplexity.pdf",
    input:
        base=expand("results/{model}/enhance/base.json", model=ENHANCE_MODELS),
        results=enhance_results(),
        code=code_of("enhance_summary"),
    params:
        models=ENHANCE_MODELS,
        result_models={path: path.split("/")[1] for path in enhance_results()},
    log:
        "results/logs/enhance/summary.log",
    conda:
        "../envs/core.yaml"
    script:
        "../workflow_scripts/enhance_summary.py"


# Task scores of the original model and of every tuning (the evaluation rule's harness and settings, one job
# per tuning for all its (task, language) pairs: the tunings are many, and scoring one pair on a tiny model
# costs less than loading torch).
rule enhance_eval:
    output:
        scores="results/{model}/enhance/{finetune}.scores.json",
        predictions="results/{model}/enhance/{finetune}.predictions.jsonl",
    input:
        model=lambda wc: model_inputs(finetuned_model(wc.model, wc.finetune)),
        data=lambda wc: [f for task, lang in enhance_eval_pairs(wc.model, wc.finetune) for f in task_inputs(wc.model, task, lang)],
        code=code_of("enhance_eval"),
    params:
        model=lambda wc: model_params(finetuned_model(wc.model, wc.finetune)),
        name=lambda wc: finetuned_model(wc.model, wc.finetune),
        pairs=lambda wc: enhance_eval_pairs(wc.model, wc.finetune),
        source=lambda wc: {t: task_source(wc.model, t) for t in TASKS},
        folder=lambda wc: {t: task_folder(t) for t in TASKS if task_source(wc.model, t) == "files"},
        chat_template=lambda wc: model_spec(config, wc.model).get("chat_template", False),
        generation={t: config["eval"]["generation"].get(t, {}) for t in TASKS},
        batch_size=config["eval"]["batch_size"],
        engine=lambda wc: model_engine(wc.model),
        n_items={t: per_key(config["eval"]["n_items"], t, "all") for t in TASKS},
        dataset={t: config["eval"]["datasets"].get(t, {}) for t in TASKS},
        seed=config["seed"],
    log:
        "results/logs/enhance/{model}/{finetune}.eval.log",
    benchmark:
        "results/benchmarks/enhance/{model}/{finetune}.eval.tsv"
    threads: lambda wc: 2 if model_spec(config, wc.model).get("gpu") else 1
    resources:
        gpu=lambda wc: int(model_spec(config, wc.model).get("gpu", False)),
        mem_mb=lambda wc: model_mem_mb(wc.model),
    wildcard_constraints:
        finetune=FineTuning.PATTERN,
    conda:
        "../envs/torch.yaml"
    script:
        "../workflow_scripts/enhance_eval.py"


rule figure4:
    output:
        csv="results/figure4.csv",
        png=report("results/figure4.png", caption="../report/figure4.rst", category="Enhancement"),
        pdf="results/figure4.pdf",
    input:
        original=expand("results/{model}/enhance/original.scores.json", model=ENHANCE_MODELS),
        scores=[f for m in ENHANCE_MODELS for f in enhance_scores(m, FIGURE4_LANGS)],
        code=code_of("figure4"),
    params:
        models=ENHANCE_MODELS,
        languages=FIGURE4_LANGS,
        tasks=TASKS,
        enhance=ENHANCE_GRID,
        seed=config["seed"],
    log:
        "results/logs/enhance/figure4.log",
    conda:
        "../envs/core.yaml"
    script:
        "../workflow_scripts/figure4.py"


rule table6:
    output:
        csv=report("results/table6.csv", caption="../report/table6.rst", category="Enhancement"),
        md="results/table6.md",
    input:
        original=expand("results/{model}/enhance/original.scores.json", model=ENHANCE_MODELS),
        scores=[f for m in ENHANCE_MODELS for f in enhance_scores(m, TABLE6_LANGS,
                                                                     lambda v: v.n_docs == ENHANCE["control_size"])],
        corpus=expand("results/corpus/{corpus}/{lang}.jsonl", corpus=ENHANCE["corpus"], lang=TABLE6_LANGS),
        code=code_of("table6"),
    params:
        models=ENHANCE_MODELS,
        languages=TABLE6_LANGS,
        tuned=[x for x in TABLE6_LANGS if x in ENHANCE["languages"] and
               any(v.name == f"lang-{ENHANCE['control_size']}" for v in enhance_grid(ENHANCE, x))],
        tasks=TASKS,
        enhance=ENHANCE_GRID,
        seed=config["seed"],
    log:
        "results/logs/enhance/table6.log",
    conda:
        "../envs/core.yaml"
    script:
        "../workflow_scripts/table6.py"
