"""rule language_ratio: the language of each layer's hidden states (logit lens + CLD3) for queries in each language."""
import pandas as pd

from mwork.io import write_table
from mwork.lens import layer_languages
from mwork.models import check_window, load_model_params
from mwork.queries import figure_queries
from mwork.workflow import rule_script

with rule_script(snakemake) as log:
    smk = snakemake
    p = smk.params
    model, tok = load_model_params(p.model)
    check_window(model, p.max_length, "config.lens.max_length")
    frames = []
    for lang in p.languages:
        texts = figure_queries(list(smk.input.queries), lang, p.queries, p.per_task, corpus_limit=p.n_docs)
        df = layer_languages(model, tok, texts, p.batch_size, p.max_length, last=p.last, top_k=p.top_k)
        df.insert(0, "language", lang)
        df.insert(0, "queries", f"{p.queries} ({len(texts)})")
        frames.append(df)
        log.info("%s: %d queries, %d decoded tokens per layer", lang, len(texts),
                 int(df[df["layer"] == 1]["tokens"].sum()))
    df = pd.concat(frames, ignore_index=True)
    df.insert(0, "model", smk.wildcards.model)
    write_table(df, smk.output.csv)
