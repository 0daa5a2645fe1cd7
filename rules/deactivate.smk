# Deactivation experiments: deactivate language X's neurons (or a matched random control) in chosen
# stages, evaluate English and X through the `evaluate` rule, aggregate into the paper's tables.

rule deactivation_table:
    output:
        csv=report("results/table{n}.csv", caption="../report/deactivation_table.rst", category="Tables"),
        md="results/table{n}.md",
        contrasts="results/table{n}_contrasts.csv",  # every pair of rows, paired intervals (mwork/claims.py)
    input:
        scores=lambda wc: deactivation_inputs(wc.n),
        code=code_of("deactivation_table"),
    params:
        table=lambda wc: config["deactivation"]["tables"][wc.n],
        settings=lambda wc: table_settings(wc.n),
        models=EVAL_MODELS,
        number=lambda wc: wc.n,
    log:
        "results/logs/table{n}.log",
    wildcard_constraints:
        n=Table.pattern("stage"),
    conda:
        "../envs/core.yaml"
    script:
        "../workflow_scripts/deactivation_table.py"


# The language of the answers under each row (mwork/answer_language.py: CLD3 on the stored answers, no
# model): does switching X's neurons off make X's answers leave X, and English's stay English?
rule answer_language:
    output:
        csv=report("results/table{n}_answer_language.csv", caption="../report/answer_language.rst", category="Tables"),
        md="results/table{n}_answer_language.md",
    input:
        predictions=lambda wc: [f.removesuffix(".json") + ".predictions.jsonl" for f in deactivation_inputs(wc.n)],
        code=code_of("answer_language"),
    params:
        table=lambda wc: config["deactivation"]["tables"][wc.n],
        models=EVAL_MODELS,
        seed=config["seed"],
    log:
        "results/logs/table{n}_answer_language.log",
    wildcard_constraints:
        n="|".join(str(n) for n in Table.DEACTIVATION),
    conda:
        "../envs/torch.yaml"  # cld3-py
    script:
        "../workflow_scripts/answer_language.py"


rule language_table:
    output:
        csv="results/table{n}.csv",
    input:
        scores=lambda wc: deactivation_inputs(per_language_of(wc.n)),
        code=code_of("language_table"),
    params:
        table=lambda wc: config["deactivation"]["tables"][per_language_of(wc.n)],
        settings=lambda wc: table_settings(per_language_of(wc.n)),
    log:
        "results/logs/table{n}.log",
    wildcard_constraints:
        n=Table.pattern("per_language"),
    conda:
        "../envs/core.yaml"
    script:
        "../workflow_scripts/language_table.py"


rule table1:
    output:
        csv=report("results/table1.csv", caption="../report/table1.rst", category="Tables"),
        md="results/table1.md",
    input:
        scores=lambda wc: deactivation_inputs("1"),
        code=code_of("table1"),
    params:
        table=config["deactivation"]["tables"]["1"],
        settings=lambda wc: table_settings("1"),
        models=EVAL_MODELS,
    log:
        "results/logs/table1.log",
    conda:
        "../envs/core.yaml"
    script:
        "../workflow_scripts/table1.py"


rule stage_tuning:
    output:
        stages="results/{model}/stages.json",
        csv="results/{model}/stage_tuning.csv",
        md="results/{model}/stage_tuning.md",
    input:
        scores=lambda wc: stage_tuning_inputs(wc.model),
        code=code_of("stage_tuning"),
    params:
        tuning=config["stage_tuning"],
        layers=lambda wc: model_layers(config, wc.model),
    log:
        "results/logs/stage_tuning/{model}.log",
    conda:
        "../envs/core.yaml"
    script:
        "../workflow_scripts/stage_tuning.py"


rule stage_table:
    output:
        csv="results/table{n}.csv",
        md="results/table{n}.md",
    input:
        csv=lambda wc: stage_table_input(wc.n, "csv"),
        md=lambda wc: stage_table_input(wc.n, "md"),
    log:
        "results/logs/table{n}.log",
    wildcard_constraints:
        n=Table.pattern("stage_tuning"),
    conda:
        "../envs/core.yaml"
    shell:
        "(cp {input.csv} {output.csv}.tmp && cp {input.md} {output.md}.tmp && mv {output.csv}.tmp {output.csv}"
        " && mv {output.md}.tmp {output.md}) 2> {log}"


COMPARED_TABLES = ALL_TABLES + ["11"]  # the paper's tables that `all` reproduces


rule paper_comparison:
    output:
        csv=report("results/paper_comparison.csv", caption="../report/paper_comparison.rst", category="Beside the paper"),
        md="results/paper_comparison.md",
    input:
        paper=repo_file("report/paper_numbers.csv"),
        tables=[f"results/table{t}.csv" for t in COMPARED_TABLES],
        code=code_of("paper_comparison"),
    params:
        tables=COMPARED_TABLES,
        settings=config["deactivation"]["settings"],
        paper_models={name.lower(): name for name in config["models"] if name.lower() in ("vicuna", "mistral")},
    log:
        "results/logs/paper_comparison.log",
    conda:
        "../envs/core.yaml"
    script:
        "../workflow_scripts/paper_comparison.py"
