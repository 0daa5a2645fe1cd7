"""rule figure5: overlap of language-specific neurons between languages, attention and FFN, per model."""
import pandas as pd

from mwork.figures import overlap_figure
from mwork.workflow import rule_script

with rule_script(snakemake) as log:
    smk = snakemake
    panels = []
    for model, attn, ffn in zip(smk.params.models, smk.input.overlap_attn, smk.input.overlap_ffn):
        panels.append((f"{model}: self-attention", pd.read_csv(attn, index_col="x")))
        panels.append((f"{model}: feed-forward", pd.read_csv(ffn, index_col="x")))
    overlap_figure(panels, [smk.output.png, smk.output.pdf])
    log.info("figure 5: %d panels", len(panels))
