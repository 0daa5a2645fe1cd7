"""rule figure3: language-specific neurons activated per layer while processing queries in each language."""
import pandas as pd

from mwork.figures import activated_figure
from mwork.io import write_table
from mwork.models import check_window, load_model_params
from mwork.neuron_sets import activated_per_layer
from mwork.neurons import Scoring, corpus_of, load_neurons
from mwork.queries import figure_queries
from mwork.workflow import rule_script

with rule_script(snakemake) as log:
    smk = snakemake
    p = smk.params
    model, tok = load_model_params(p.model)
    check_window(model, p.max_length, "config.plnd.max_length")  # Figure 3 reads queries as PLND does
    frames = []
    for lang, neuron_file in zip(p.languages, smk.input.neurons):
        masks, _ = load_neurons(neuron_file, model=model, language=lang, corpus=corpus_of(neuron_file))
        texts = figure_queries(list(smk.input.queries), lang, p.queries, p.per_task, corpus_limit=p.n_docs)
        df = activated_per_layer(model, tok, texts, masks, p.top_k, p.batch_size, p.max_length, Scoring(**p.scoring))
        df.insert(0, "language", lang)
        df.insert(0, "queries", f"{p.queries} ({len(texts)})")
        frames.append(df)
        log.info("%s: %d queries", lang, len(texts))
    df = pd.concat(frames, ignore_index=True)
    df.insert(0, "model", smk.wildcards.model)
    write_table(df, smk.output.csv)
    activated_figure(df, [smk.output.png, smk.output.pdf], smk.wildcards.model)
