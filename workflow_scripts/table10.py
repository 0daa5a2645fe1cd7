"""rule table10: the prompts and generation settings the evaluations use, laid out as the paper's Table 10."""
from mwork.io import write_table, write_text
from mwork.tables import table10
from mwork.workflow import rule_script

with rule_script(snakemake) as log:
    smk = snakemake
    p = smk.params
    df, md = table10(p.tasks, p.languages, p.models, p.generation, p.task_languages)
    write_table(df, smk.output.csv)
    write_text(smk.output.md, md)
    log.info("\n%s", md)
