"""rule deactivation_table: Tables 2-5, 8, 9 from the evaluation scores."""
from mwork.io import write_table, write_text
from mwork.tables import deactivation_table, read_scores
from mwork.workflow import rule_script

with rule_script(snakemake) as log:
    smk = snakemake
    scores = read_scores(smk.input.scores)
    df, md, contrasts = deactivation_table(scores, smk.params.table, smk.params.settings, smk.params.number,
                                           contrasts=True)
    write_table(df, smk.output.csv)
    write_text(smk.output.md, md)
    write_table(contrasts, smk.output.contrasts)
    log.info("\n%s", md)
