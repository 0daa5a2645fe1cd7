"""rule table1: the task score of each language with its own neurons (or as many random ones) deactivated."""
from mwork.io import write_table, write_text
from mwork.tables import read_scores, table1
from mwork.workflow import rule_script

with rule_script(snakemake) as log:
    smk = snakemake
    scores = read_scores(smk.input.scores)
    df, md = table1(scores, smk.params.table, smk.params.settings, smk.params.models)
    write_table(df, smk.output.csv)
    write_text(smk.output.md, md)
    log.info("\n%s", md)
