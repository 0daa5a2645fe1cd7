"""rule loss_matrix: Δ held-out loss of every language with each language's neurons (and a random control) deactivated."""
from mwork.io import write_table
from mwork.loss_matrix import cells, document_losses, heldout_texts, xquad_texts
from mwork.models import check_window, load_model_params
from mwork.neurons import corpus_of, load_languages_stats, load_neurons
from mwork.selection import select_language
from mwork.workflow import rule_script

with rule_script(snakemake) as log:
    smk = snakemake
    p = smk.params
    def field(key):  # the config field a setting came from, for the errors
        return f"config.models.{smk.wildcards.model}.loss_matrix.{key}" if key in p.own else f"config.loss_matrix.{key}"

    # fewer documents than loss_matrix.n_docs: an error, before the model loads
    files = dict(zip(p.evaluated, smk.input.texts))
    if p.domain == "xquad":  # a second domain: XQuAD's paragraphs, the same in every language
        texts = xquad_texts(files, p.spec["n_docs"], p.texts_seed, field("n_docs"))
    else:
        texts = heldout_texts(files, p.spec["n_docs"], field("n_docs"))
    for lang, docs in texts.items():
        log.info("%s: %d %s documents", lang, len(docs), p.domain)
    model, tok = load_model_params(p.model)
    check_window(model, p.spec["max_length"], field("max_length"))
    masks = {}
    for lang in p.languages:
        path = next(f for f in smk.input.neurons if f.endswith(f"/{lang}.safetensors"))
        masks[lang], _ = load_neurons(path, model, language=lang, corpus=corpus_of(path))
    families = {}
    if p.spec.get("methods"):
        stats, n_docs, _ = load_languages_stats(dict(zip(p.languages, smk.input.stats)),
                                                corpus_of(smk.input.stats[0]), p.selection["min_doc_fraction"])
        for method in p.spec["methods"]:
            spec = {**dict(p.selection), "method": method}
            families[method] = {x: select_language(stats, x, spec, n_docs, against=list(p.languages))[0]
                                for x in p.languages}
            log.info("%s: %s neurons per language", method,
                     {x: sum(int(m.sum()) for m in s.values()) for x, s in families[method].items()})
    docs = document_losses(model, tok, texts, masks, seed=p.seed, families=families, batch_size=p.spec["batch_size"],
                           max_length=p.spec["max_length"], random_draws=p.spec["random_draws"],
                           random_match=p.random_match,
                           progress=lambda r: log.info("%s neurons of %s (draw %d, %d): %s loss %.4f (%+.4f)",
                                                       r["neurons"], r["deactivated"], r["draw"], r["n_neurons"],
                                                       r["evaluated"], r["loss"], r["delta"]))
    docs.insert(0, "model", smk.wildcards.model)
    write_table(docs, smk.output.docs)
    write_table(cells(docs, p.spec["bootstrap"], p.seed), smk.output.csv)
