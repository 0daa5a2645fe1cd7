"""rule neurons: one language's neuron set from PLND's statistics (its own, and other languages' for a
rule that compares them) -> the neuron file every later stage reads."""
import json

from mwork.errors import MworkError
from mwork.neuron_sets import per_layer_counts
from mwork.neurons import load_stats, save_neurons
from mwork.selection import select_language
from mwork.workflow import rule_script

with rule_script(snakemake) as log:
    smk = snakemake
    p, wc = smk.params, smk.wildcards
    stats, metas = {}, {}
    for lang, path in zip(p.languages, smk.input.stats):
        stats[lang], metas[lang] = load_stats(path, language=lang, corpus=wc.corpus)
    own = metas[wc.lang]
    for lang, meta in metas.items():
        if meta.get("model_fingerprint") != own.get("model_fingerprint"):
            raise MworkError(f"{smk.input.stats[p.languages.index(lang)]}: PLND statistics of another model than "
                             f"{smk.input.stats[0]}'s; rerun rule plnd for both")
        made = json.loads(meta.get("statistics", "{}")).get("min_doc_fraction")
        if made is not None and float(made) != float(p.selection["min_doc_fraction"]):
            raise MworkError(f"{smk.input.stats[p.languages.index(lang)]}: statistics made for min_doc_fraction "
                             f"{made}, but config.plnd.selection.min_doc_fraction is {p.selection['min_doc_fraction']}; "
                             f"rerun rule plnd")
    n_docs = {lang: int(meta["n_docs"]) for lang, meta in metas.items()}
    masks, chosen = select_language(stats, wc.lang, dict(p.selection), n_docs, against=list(p.languages))
    own_stats = stats[wc.lang]
    meta = {**own, "selection": dict(p.selection), "selection_result": chosen}
    meta.pop("statistics", None)
    meta["statistics"] = own.get("statistics", "{}")
    save_neurons(smk.output[0], {**masks, **own_stats}, meta)
    size = sum(int(m.sum()) for m in masks.values())
    total = sum(m.numel() for m in masks.values())
    log.info("%s (%s): %d of %d neurons (%.3f%%); %s", wc.lang, p.selection["method"], size, total,
             100 * size / total, json.dumps(chosen))
    log.info("selected neurons per layer:\n%s", per_layer_counts(masks).to_string())
