"""rule language_table: Tables 14-17, the per-language numbers behind Tables 2-5."""
from mwork.io import write_table
from mwork.tables import per_language, read_scores
from mwork.workflow import rule_script

with rule_script(snakemake) as log:
    smk = snakemake
    scores = read_scores(smk.input.scores)
    df = per_language(scores, smk.params.table)
    write_table(df, smk.output.csv)
    log.info("\n%s", df.to_string())
