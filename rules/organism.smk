# The offline model organism: task suites, tokenizer, a tiny Llama trained by the DAG itself.

SUITE_SPLITS = ["train", "test"]


rule suites:
    output:
        expand("results/suites/{task}/{lang}.{split}.jsonl", task=TASKS, lang=LANGS, split=SUITE_SPLITS),
        world="results/suites/world.json",
    input:
        code=code_of("suites"),
    params:
        languages=LANGS,
        tasks=TASKS,
        spec=config["suites"],
    log:
        "results/logs/suites.log",
    conda:
        "../envs/core.yaml"
    script:
        "../workflow_scripts/suites.py"


rule organism_tokenizer:
    output:
        directory("results/organism/tokenizer"),
    input:
        corpus=corpus_files(config["organism"]["corpus"]),
        suites=rules.suites.output,
        code=code_of("organism_tokenizer"),
    params:
        tokenizer=config["organism"]["tokenizer"],
        mix=config["organism"]["mix"],
        seed=config["seed"],
    log:
        "results/logs/organism/tokenizer.log",
    benchmark:
        "results/benchmarks/organism/tokenizer.tsv"
    threads: 2
    conda:
        "../envs/torch.yaml"
    script:
        "../workflow_scripts/organism_tokenizer.py"


rule organism_train:
    output:
        model=directory(config["models"]["organism"]["path"]),
        curve="results/organism/training_curve.csv",
    input:
        corpus=corpus_files(config["organism"]["corpus"]),
        suites=rules.suites.output,
        tokenizer=rules.organism_tokenizer.output,
        code=code_of("organism_train"),
    params:
        arch=config["organism"]["arch"],
        train=config["organism"]["train"],
        mix=config["organism"]["mix"],
        seed=config["seed"],
    log:
        "results/logs/organism/train.log",
    benchmark:
        "results/benchmarks/organism/train.tsv"
    threads: config["organism"]["threads"]
    resources:
        mem_mb=4000,
    conda:
        "../envs/torch.yaml"
    script:
        "../workflow_scripts/organism_train.py"


rule organism_report:
    output:
        perplexity="results/organism/perplexity.csv",
        curve_png=report(
            "results/organism/training_curve.png",
            caption="../report/organism_curve.rst",
            category="Model organism",
        ),
    input:
        model=rules.organism_train.output.model,
        curve=rules.organism_train.output.curve,
        corpus=corpus_files(config["organism"]["corpus"]),
        code=code_of("organism_report"),
    params:
        seq_len=config["organism"]["train"]["seq_len"],
    log:
        "results/logs/organism/report.log",
    threads: 2
    conda:
        "../envs/torch.yaml"
    script:
        "../workflow_scripts/organism_report.py"
