"""rule figure1_known: Figure 1 from known answer tokens, with bootstrap intervals over items."""
import pandas as pd

from mwork.figures import known_token_figure
from mwork.io import write_table
from mwork.known_lens import summarize_known
from mwork.workflow import rule_script

with rule_script(snakemake) as log:
    smk = snakemake
    df = pd.concat([pd.read_csv(path) for path in smk.input.probs], ignore_index=True)
    summary = summarize_known(df, seed=smk.params.seed, min_prob=smk.params.min_prob)
    write_table(summary, smk.output.csv)
    known_token_figure(summary, [smk.output.png, smk.output.pdf])
    for (model, lang), g in summary[summary["english_dominant"]].groupby(["model", "language"], sort=False):
        log.info("%s %s: English-dominant layers %s", model, lang, g["layer"].tolist())
