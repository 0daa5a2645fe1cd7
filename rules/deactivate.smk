# Deactivation experiments (Tables 1-5): deactivate language X's neurons, evaluate English and X.
# Planned here so that `snakemake -n results/table3.csv` shows the whole chain; the deactivation
# issue defines the settings in config and implements the aggregation.

TABLE_TASK = {"1": "generation", "2": "understanding", "3": "reasoning", "4": "knowledge", "5": "generation"}


rule deactivation_table:
    output:
        csv="results/table{n}.csv",
        md="results/table{n}.md",
    input:
        original=lambda wc: expand("results/eval/{model}/{task}/{lang}/original.json", model=MODELS,
                                   task=TABLE_TASK[wc.n], lang=EVAL_LANGS),
        deactivated=lambda wc: expand("results/eval/{model}/{task}/{lang}/lang_spec@{x}.json", model=MODELS,
                                      task=TABLE_TASK[wc.n], lang=EVAL_LANGS, x=NON_EN_LANGS),
    params:
        task=lambda wc: TABLE_TASK[wc.n],
        issue="deactivation issue: Tables 1-5",
    log:
        "results/logs/table{n}.log",
    wildcard_constraints:
        n="[1-5]",
    conda:
        "../envs/core.yaml"
    script:
        "../workflow_scripts/planned.py"
