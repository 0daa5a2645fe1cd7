"""rule neurons: one language's neuron set from PLND's statistics (its own, and other languages' for a
rule that compares them) -> the neuron file every later stage reads."""
import json

from mwork.neuron_sets import per_layer_counts
from mwork.neurons import load_languages_stats, save_neurons
from mwork.selection import select_language
from mwork.workflow import rule_script

with rule_script(snakemake) as log:
    smk = snakemake
    p, wc = smk.params, smk.wildcards
    stats, n_docs, metas = load_languages_stats(dict(zip(p.languages, smk.input.stats)), wc.corpus,
                                                p.selection["min_doc_fraction"])
    masks, chosen = select_language(stats, wc.lang, dict(p.selection), n_docs, against=list(p.languages))
    meta = {**metas[wc.lang], "selection": dict(p.selection), "selection_result": chosen}
    save_neurons(smk.output[0], {**masks, **stats[wc.lang]}, meta)
    size = sum(int(m.sum()) for m in masks.values())
    total = sum(m.numel() for m in masks.values())
    log.info("%s (%s): %d of %d neurons (%.3f%%); %s", wc.lang, p.selection["method"], size, total,
             100 * size / total, json.dumps(chosen))
    log.info("selected neurons per layer:\n%s", per_layer_counts(masks).to_string())
