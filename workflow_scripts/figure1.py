"""rule figure1: Figures 1 and 7 from every model's layer-language counts."""
import pandas as pd

from mwork.figures import language_ratio_figure, languages_per_layer_figure
from mwork.io import write_table
from mwork.lens import language_ratios
from mwork.workflow import rule_script

with rule_script(snakemake) as log:
    smk = snakemake
    counts = pd.concat([pd.read_csv(path) for path in smk.input.counts], ignore_index=True)
    rows = []
    query_langs = list(dict.fromkeys(counts["language"]))  # the evaluation languages the queries were in
    for (model, lang), g in counts.groupby(["model", "language"], sort=False):
        r = language_ratios(g, lang, among=query_langs)
        r.insert(0, "language", lang)
        r.insert(0, "model", model)
        rows.append(r)
    ratios = pd.concat(rows, ignore_index=True)
    write_table(ratios, smk.output.csv)
    language_ratio_figure(ratios, [smk.output.png, smk.output.pdf])
    languages_per_layer_figure(counts, [smk.output.png7, smk.output.pdf7], smk.params.top)
    log.info("%d models, %d query languages", ratios["model"].nunique(), ratios["language"].nunique())
