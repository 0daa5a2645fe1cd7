"""rule figure3: per layer, the share of each language's neuron set that queries activate — the language's
own queries, the other languages' queries, and a random set of the same sizes (mwork.neuron_sets)."""
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
    sets, queries = {}, {}
    for lang, neuron_file in zip(p.languages, smk.input.neurons):
        sets[lang], _ = load_neurons(neuron_file, model=model, language=lang, corpus=corpus_of(neuron_file))
        queries[lang] = figure_queries(list(smk.input.queries), lang, p.queries, p.per_task, corpus_limit=p.n_docs)
        log.info("%s: %d queries", lang, len(queries[lang]))
    # every query is scored once and checked against every language's set and the random sets
    df = activated_per_layer(model, tok, queries, sets, p.top_k, p.batch_size, p.max_length, Scoring(**p.scoring),
                             seed=p.seed)
    df.insert(0, "queries", [f"{p.queries} ({n})" for n in df.pop("n_queries")])
    df.insert(0, "model", smk.wildcards.model)
    write_table(df, smk.output.csv)
    activated_figure(df, [smk.output.png, smk.output.pdf], smk.wildcards.model)
