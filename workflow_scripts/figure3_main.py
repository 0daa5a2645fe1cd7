"""rule figure3_main: Figure 3 of every model (a row each) and every model's numbers in one CSV."""
import pandas as pd

from mwork.figures import activated_figure
from mwork.io import write_table
from mwork.workflow import rule_script

with rule_script(snakemake) as log:
    smk = snakemake
    df = pd.concat([pd.read_csv(p) for p in smk.input.csv], ignore_index=True)
    write_table(df, smk.output.csv)
    activated_figure(df, [smk.output.png, smk.output.pdf])
    log.info("figure 3 of %s", ", ".join(dict.fromkeys(df["model"])))
