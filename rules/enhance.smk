# Enhancement (#15): tune only a language's neurons, against random neurons and LoRA with as many
# parameters; held-out perplexity of every language before and after. The grid is mwork.config.enhance_grid;
# each job gets only the settings it uses, so editing another language's sizes reruns nothing here.

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
        lang="[a-z]{2,3}",
        variant=r"(lang|lora)-\d+|random-\d+-s\d+",
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
