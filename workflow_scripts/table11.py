"""rule table11: baseline per model x task x language, laid out as the paper's Table 11."""
from mwork.io import write_table, write_text
from mwork.tables import read_scores, table11
from mwork.workflow import rule_script

with rule_script(snakemake) as log:
    smk = snakemake
    scores = read_scores(smk.input.scores)
    long, wide, md = table11(scores, smk.params.models, smk.params.tasks, smk.params.languages,
                             extra=smk.params.extra)
    write_table(long, smk.output.csv)
    write_text(smk.output.md, md)
    log.info("\n%s", md)
