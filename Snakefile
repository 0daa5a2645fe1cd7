# Reproduction of "How do Large Language Models Handle Multilingualism?" (Zhao et al., NeurIPS 2024).
# This file is a table of contents: the rules live in rules/*.smk, the logic in the mwork/ library.
from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


include: "rules/common.smk"
include: "rules/corpus.smk"
include: "rules/organism.smk"
include: "rules/plnd.smk"
include: "rules/eval.smk"
include: "rules/deactivate.smk"


# Everything that is implemented today. `make run` builds it.
rule all:
    input:
        implemented_targets(),
    default_target: True


# Every table and figure of the paper (rules whose scripts are not yet written fail with
# "not implemented yet"; `snakemake -n paper` shows the whole plan).
rule paper:
    input:
        "results/table7.csv",
        "results/table11.csv",
        "results/table1.csv",
        "results/table3.csv",
        "results/figure5.png",
        "results/figure3.png",
        expand("results/{model}/neurons/summary.csv", model=MODELS),
