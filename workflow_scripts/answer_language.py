"""rule answer_language: the language of a deactivation table's stored answers (CLD3), per row and language."""
from mwork.answer_language import answer_language_table
from mwork.io import write_table, write_text
from mwork.workflow import rule_script

with rule_script(snakemake) as log:
    smk = snakemake
    df, md = answer_language_table(list(smk.input.predictions), smk.params.table, smk.params.models,
                                   seed=smk.params.seed)
    write_table(df, smk.output.csv)
    write_text(smk.output.md, md)
    log.info("\n%s", md)
