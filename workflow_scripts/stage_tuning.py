"""rule stage_tuning: choose the understanding / generation boundaries (Appendix H; Tables 12-13)."""
from mwork.io import write_json, write_table, write_text
from mwork.tables import read_scores, stage_tuning
from mwork.workflow import rule_script

with rule_script(snakemake) as log:
    smk = snakemake
    scores = read_scores(smk.input.scores)
    df, md, choice = stage_tuning(scores, smk.params.tuning, smk.params.layers)
    write_table(df, smk.output.csv)
    write_text(smk.output.md, md)
    write_json(smk.output.stages, {**choice, "layers": smk.params.layers, "tuning": smk.params.tuning})
    log.info("\n%s", md)
