# Reproduction of "How do Large Language Models Handle Multilingualism?" (Zhao et al., NeurIPS 2024).
# This file is a table of contents: the rules live in rules/*.smk, the logic in the mwork/ library.
from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


include: "rules/common.smk"


# A language code in every path that has one (mwork.names holds each name's grammar)
wildcard_constraints:
    lang=names.LANG,


include: "rules/corpus.smk"
include: "rules/organism.smk"
include: "rules/models.smk"
include: "rules/plnd.smk"
include: "rules/eval.smk"
include: "rules/deactivate.smk"
include: "rules/lens.smk"
include: "rules/enhance.smk"
include: "rules/report.smk"

# Plots, tables and small aggregations run on the submitting node of a cluster, not as jobs.
localrules: all, paper, claims, analyses, enhancement, neurons, table7, deactivation_table, answer_language, language_table, table1, stage_tuning, stage_table,
    table10, table11, paper_comparison, lens_stages, figure1, figure1_known, neuron_summary, figure5, figure3_main, loss_matrix_figure,
    provenance, enhance_summary, figure4, table6


# The main job: `make run` builds it.
rule all:
    input:
        implemented_targets(),
        intermediate_files(),  # a deleted intermediate is rebuilt (rules/common.smk)
        "results/provenance.md",
    default_target: True


# Enhancement (Section 4): tune each language's neurons, score the tuned models (Figure 4, Table 6) and
# their held-out perplexity. Not in `all`: on the embedded default it adds ~150 tunings and evaluations.
rule enhancement:
    input:
        "results/figure4.png",
        "results/table6.csv",
        "results/enhance_perplexity.csv",


# Every table and figure of the paper (`snakemake paper`): `all` and the tables it leaves out.
rule paper:
    input:
        implemented_targets(),
        expand("results/table{n}.csv", n=[2, 4, 5, 8, 9, 12, 14, 15, 16, 17]),
        rules.enhancement.input,


# The tables the paper's claims are decided on (mwork/claims.py, the findings block of `make summary`):
# Tables 1-5, 8 and 9 with their per-language Tables 14-17, where the config runs their tasks.
rule claims:
    input:
        claims_targets(),


# The analyses that need no task data: PLND neuron sets (+ summary), Figures 1, 3, 5 and 7, the loss
# matrix. `make run CONFIG=configs/real.yaml TARGET=analyses` runs them on the two real LLMs.
rule analyses:
    input:
        analyses_targets(),
