# Per-language corpora (packaged / local / hf) and the paper's Table 7.


rule corpus:
    output:
        docs="results/corpus/{corpus}/{lang}.jsonl",
        stats="results/corpus/{corpus}/{lang}.stats.json",
    input:
        code=code_of("corpus"),
        configured=configured(corpus=(list(config["corpora"]), "config.corpora"), lang=(LANGS, "config.languages")),
    params:
        # this language's document count only: editing another language's count reruns nothing here
        spec=lambda wc: {**config["corpora"][wc.corpus], "n_docs": n_docs_for(config["corpora"][wc.corpus], wc.lang)},
        seed=config["seed"],
    log:
        "results/logs/corpus/{corpus}/{lang}.log",
    benchmark:
        "results/benchmarks/corpus/{corpus}/{lang}.tsv"
    threads: 1
    conda:
        "../envs/core.yaml"
    script:
        "../workflow_scripts/corpus.py"


rule table7:
    output:
        csv="results/table7.csv",
        md="results/table7.md",
    input:
        stats=expand("results/corpus/{corpus}/{lang}.stats.json", corpus=CORPUS, lang=LANGS),
        code=code_of("table7"),
    params:
        corpus=CORPUS,
        languages=LANGS,
    log:
        "results/logs/table7.log",
    conda:
        "../envs/core.yaml"
    script:
        "../workflow_scripts/table7.py"
