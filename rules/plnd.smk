# PLND: per (model, corpus, language), every neuron's statistics over the language's documents (rule
# plnd, the costly part), then the language's set from them (rule neurons, cheap: changing the selection
# rule reruns no PLND); the sets' overlap (Figures 5/6), their size against the corpus size.


rule plnd:
    output:
        "results/{model}/plnd/{corpus}/{lang}.safetensors",
    input:
        model=lambda wc: model_inputs(wc.model),
        corpus="results/corpus/{corpus}/{lang}.jsonl",
        code=code_of("plnd"),
        configured=configured(model=(known_model, "config.models (nor a tuning <base>+<language>-<variant>)")),
    params:
        model=lambda wc: model_params(wc.model),
        split=config["plnd"]["split"],
        n_docs=lambda wc: model_spec(config, wc.model).get("plnd_n_docs") or n_docs_for(config["plnd"], wc.lang),
        batch_size=config["plnd"]["batch_size"],
        max_length=config["plnd"]["max_length"],
        scoring=PLND_SCORING,
        statistics=PLND_STATISTICS,
    log:
        "results/logs/plnd/{model}/{corpus}/{lang}.log",
    benchmark:
        "results/benchmarks/plnd/{model}/{corpus}/{lang}.tsv"
    threads: 2
    resources:
        gpu=lambda wc: int(model_spec(config, wc.model).get("gpu", False)),
        mem_mb=lambda wc: model_mem_mb(wc.model),
    conda:
        "../envs/torch.yaml"
    script:
        "../workflow_scripts/plnd.py"


rule neurons:
    output:
        "results/{model}/neurons/{corpus}/{lang}.safetensors",
    input:
        stats=lambda wc: [f"results/{wc.model}/plnd/{wc.corpus}/{x}.safetensors" for x in selection_languages(wc.lang)],
        code=code_of("neurons"),
    params:
        languages=lambda wc: selection_languages(wc.lang),
        selection=config["plnd"]["selection"],
    log:
        "results/logs/neurons/{model}/{corpus}/{lang}.log",
    conda:
        "../envs/torch.yaml"
    script:
        "../workflow_scripts/neurons.py"


# The sets of another selection rule, for the evaluation settings that name one (deactivation.settings.<name>.
# selection; e.g. the paper's threshold rule for Tables 8 and 9, whose question -- are the neurons a set shares
# with English or with every language language-agnostic? -- needs sets that share some)
use rule neurons as neurons_by_method with:
    output:
        "results/{model}/neurons_{method}/{corpus}/{lang}.safetensors",
    input:
        stats=lambda wc: [f"results/{wc.model}/plnd/{wc.corpus}/{x}.safetensors"
                          for x in selection_languages(wc.lang, wc.method)],
        code=code_of("neurons"),
    params:
        languages=lambda wc: selection_languages(wc.lang, wc.method),
        selection=lambda wc: selection_spec(wc.method),
    log:
        "results/logs/neurons_{method}/{model}/{corpus}/{lang}.log",
    wildcard_constraints:
        method="|".join(SELECTION_METHODS),


rule neuron_summary:
    output:
        counts="results/{model}/neurons/summary.csv",
        overlap_attn="results/overlap/{model}_attn.csv",
        overlap_ffn="results/overlap/{model}_ffn.csv",
    input:
        neurons=expand("results/{{model}}/neurons/{corpus}/{lang}.safetensors", corpus=CORPUS, lang=EVAL_LANGS),
        code=code_of("neuron_summary"),
    params:
        languages=EVAL_LANGS,
    log:
        "results/logs/neuron_summary/{model}.log",
    conda:
        "../envs/core.yaml"
    script:
        "../workflow_scripts/neuron_summary.py"


rule set_stability:
    output:
        csv="results/{model}/set_stability.csv",
        png=report("results/set_stability_{model}.png", caption="../report/set_stability.rst",
                   category="Language-specific neurons"),
        pdf="results/set_stability_{model}.pdf",
    input:
        model=lambda wc: model_inputs(wc.model),
        corpus=expand("results/corpus/{corpus}/{lang}.jsonl", corpus=CORPUS, lang=EVAL_LANGS),
        code=code_of("set_stability"),
    params:
        model=lambda wc: model_params(wc.model),
        languages=EVAL_LANGS,
        split=config["plnd"]["split"],
        selection=config["plnd"]["selection"],
        scoring=PLND_SCORING,
        batch_size=config["plnd"]["batch_size"],
        max_length=config["plnd"]["max_length"],
        spec={k: v for k, v in config["set_stability"].items() if k != "models"},  # which models: not this job's
        seed=config["seed"],
    log:
        "results/logs/set_stability/{model}.log",
    benchmark:
        "results/benchmarks/set_stability/{model}.tsv"
    threads: 2
    resources:
        gpu=lambda wc: int(model_spec(config, wc.model).get("gpu", False)),
        mem_mb=lambda wc: model_mem_mb(wc.model),
    conda:
        "../envs/torch.yaml"
    script:
        "../workflow_scripts/set_stability.py"


rule figure5:
    output:
        png=report("results/figure5.png", caption="../report/figure5.rst", category="Language-specific neurons"),
        pdf="results/figure5.pdf",
    input:
        overlap_attn=expand("results/overlap/{model}_attn.csv", model=MODELS),
        overlap_ffn=expand("results/overlap/{model}_ffn.csv", model=MODELS),
        code=code_of("figure5"),
    params:
        models=MODELS,
    log:
        "results/logs/figure5.log",
    conda:
        "../envs/core.yaml"
    script:
        "../workflow_scripts/figure5.py"


rule figure3:
    output:
        csv="results/figure3_{model}.csv",
        png="results/figure3_{model}.png",  # the report shows results/figure3.png, every model's row
        pdf="results/figure3_{model}.pdf",
    input:
        model=lambda wc: model_inputs(wc.model),
        neurons=expand("results/{{model}}/neurons/{corpus}/{lang}.safetensors", corpus=CORPUS, lang=EVAL_LANGS),
        queries=lambda wc: query_files(wc.model),
        code=code_of("figure3"),
    params:
        model=lambda wc: model_params(wc.model),
        languages=EVAL_LANGS,
        queries=lambda wc: query_source(wc.model),
        per_task=config["figure3"]["per_task"],
        n_docs=config["figure3"]["n_docs"],
        top_k=config["plnd"]["selection"]["top_k"],
        scoring=PLND_SCORING,
        batch_size=config["plnd"]["batch_size"],
        max_length=config["plnd"]["max_length"],
        seed=lambda wc: f"{config['seed']}-{wc.model}",  # the random sets
    log:
        "results/logs/figure3_{model}.log",
    threads: 2
    resources:
        gpu=lambda wc: int(model_spec(config, wc.model).get("gpu", False)),
        mem_mb=lambda wc: model_mem_mb(wc.model),
    conda:
        "../envs/torch.yaml"
    script:
        "../workflow_scripts/figure3.py"


rule figure3_main:
    input:
        csv=expand("results/figure3_{model}.csv", model=MODELS),
        code=code_of("figure3_main"),
    output:
        png=report("results/figure3.png", caption="../report/figure3.rst", category="Language-specific neurons"),
        pdf="results/figure3.pdf",
        csv="results/figure3.csv",
    log:
        "results/logs/figure3.log",
    conda:
        "../envs/core.yaml"
    script:
        "../workflow_scripts/figure3_main.py"


rule loss_matrix:
    output:
        csv="results/{model}/loss_matrix{domain}.csv",
        docs="results/{model}/loss_matrix{domain}_docs.csv",
    input:
        model=lambda wc: model_inputs(wc.model),
        neurons=expand("results/{{model}}/neurons/{corpus}/{lang}.safetensors", corpus=CORPUS, lang=EVAL_LANGS),
        # further selection methods (loss_matrix.methods) choose their sets from every language's statistics
        stats=lambda wc: expand("results/{model}/plnd/{corpus}/{lang}.safetensors", model=wc.model, corpus=CORPUS,
                                lang=EVAL_LANGS) if loss_matrix_spec(wc.model)["methods"] else [],
        texts=lambda wc: loss_matrix_texts(wc.domain),  # {domain}: the corpus's held-out documents or XQuAD's
        code=code_of("loss_matrix"),
    params:
        model=lambda wc: model_params(wc.model),
        languages=EVAL_LANGS,
        evaluated=lambda wc: loss_matrix_languages(wc.domain),
        domain=lambda wc: LossDomain.of(wc.domain),
        spec=lambda wc: {k: v for k, v in loss_matrix_spec(wc.model).items() if k != "domains"},
        own=lambda wc: sorted(model_spec(config, wc.model).get("loss_matrix") or {}),  # set by the model's entry
        selection=config["plnd"]["selection"],
        random_match=config["deactivation"]["random_match"],
        seed=lambda wc: f"{config['seed']}-{wc.model}",
        texts_seed=config["seed"],  # XQuAD's paragraphs: the same for every model
    log:
        "results/logs/loss_matrix/{model}{domain}.log",
    benchmark:
        "results/benchmarks/loss_matrix/{model}{domain}.tsv"
    threads: 2
    resources:
        gpu=lambda wc: int(model_spec(config, wc.model).get("gpu", False)),
        mem_mb=lambda wc: model_mem_mb(wc.model),
    wildcard_constraints:
        domain=LossDomain.PATTERN,
    conda:
        "../envs/torch.yaml"
    script:
        "../workflow_scripts/loss_matrix.py"


rule loss_matrix_figure:
    output:
        csv="results/loss_matrix{domain}.csv",
        summary="results/loss_matrix{domain}_summary.csv",
        png=report("results/loss_matrix{domain}.png", caption="../report/loss_matrix.rst",
                   category="Language-specific neurons"),
        pdf="results/loss_matrix{domain}.pdf",
    input:
        csv=expand("results/{model}/loss_matrix{{domain}}.csv", model=LOSS_MODELS),
        docs=expand("results/{model}/loss_matrix{{domain}}_docs.csv", model=LOSS_MODELS),
        code=code_of("loss_matrix_figure"),
    params:
        n_boot=config["loss_matrix"]["bootstrap"],
        seed=config["seed"],
        method=config["plnd"]["selection"]["method"],
        domain=lambda wc: LossDomain.of(wc.domain),
    log:
        "results/logs/loss_matrix_figure{domain}.log",
    wildcard_constraints:
        domain=LossDomain.PATTERN,
    conda:
        "../envs/torch.yaml"  # mwork.loss_matrix imports torch
    script:
        "../workflow_scripts/loss_matrix_figure.py"


# Every real model side by side: set shares, what every language's set holds, the known-token lens's
# English layers, the stages, the loss matrix's diagonal vs off-diagonal and vs its random control.
rule models_summary:
    output:
        csv=report("results/models_summary.csv", caption="../report/models_summary.rst", category="Beside the paper"),
        md="results/models_summary.md",
    input:
        neurons=expand("results/{model}/neurons/summary.csv", model=MODELS),
        stages=[f"results/{m}/lens_stages.json" for m in MODELS if m in LENS_MODELS],
        known=["results/figure1_known.csv"] if KNOWN_LENS_MODELS else [],
        loss=["results/loss_matrix_summary.csv"] if "" in LOSS_SUFFIXES else [],
        loss_xquad=["results/loss_matrix_xquad_summary.csv"] if "_xquad" in LOSS_SUFFIXES else [],
        code=code_of("models_summary"),
    params:
        models=MODELS,
        notes={m: model_spec(config, m).get("trained_on", "") for m in MODELS},
        method=config["plnd"]["selection"]["method"],
    log:
        "results/logs/models_summary.log",
    conda:
        "../envs/core.yaml"
    script:
        "../workflow_scripts/models_summary.py"

