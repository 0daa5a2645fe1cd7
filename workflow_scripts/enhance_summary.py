"""rule enhance_summary: held-out perplexity before and after every tuning, as a CSV and a figure."""
import json

import pandas as pd

from mwork.figures import enhance_figure
from mwork.io import write_table
from mwork.workflow import rule_script

with rule_script(snakemake) as log:
    smk = snakemake
    p = smk.params
    base = {m: json.loads(open(path, encoding="utf-8").read())["perplexity"] for m, path in zip(p.models, smk.input.base)}
    rows = []
    for path in smk.input.results:
        r = json.loads(open(path, encoding="utf-8").read())
        model = p.result_models[path]
        for lang, ppl in r["perplexity"].items():
            before = base[model][lang]
            rows.append({"model": model, "tuned": r["language"], "variant": r["variant"], "kind": r["kind"],
                         "n_docs": r["n_docs"], "trainable_params": r["trainable_params"],
                         "share_of_params": r["trainable_params"] / r["model_params"], "train_seconds": r["train_seconds"],
                         "evaluated": lang, "own": lang == r["language"], "ppl_before": before, "ppl_after": ppl,
                         "change_pct": 100 * (ppl / before - 1)})
    df = pd.DataFrame(rows)
    write_table(df, smk.output.csv)
    enhance_figure(df, [smk.output.png, smk.output.pdf])
    own = df[df["own"]].groupby("kind")["change_pct"].mean()
    log.info("mean change of the tuned language's perplexity (%%) by kind:\n%s", own.to_string())
