"""rule models_summary: every real model side by side (mwork.models_summary)."""
from mwork.io import write_table, write_text
from mwork.models_summary import models_summary
from mwork.workflow import rule_script

with rule_script(snakemake) as log:
    smk, p = snakemake, snakemake.params
    stages = {m: f"results/{m}/lens_stages.json" for m in p.models}
    df, md = models_summary(p.models, dict(zip(p.models, smk.input.neurons)),
                            {m: f for m, f in stages.items() if f in smk.input.stages},
                            known=(list(smk.input.known) or [None])[0], loss=(list(smk.input.loss) or [None])[0],
                            notes=p.notes, method=p.method, loss_xquad=(list(smk.input.loss_xquad) or [None])[0])
    write_table(df, smk.output.csv)
    write_text(smk.output.md, md)
    log.info("\n%s", md)
