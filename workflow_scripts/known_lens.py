"""rule known_lens: the logit lens's probability of the known answer's first token, in the query's
language and in English, at every layer (XQuAD questions aligned across languages)."""
from mwork.io import write_json, write_table
from mwork.known_lens import aligned_items, known_token_lens
from mwork.models import load_model_params
from mwork.tasks.data import load_items
from mwork.workflow import rule_script

with rule_script(snakemake) as log:
    smk = snakemake
    p = smk.params
    model, tok = load_model_params(p.model)
    items = {lang: load_items("understanding", lang, p.source, overrides=p.dataset, folder=p.folder)
             for lang in p.languages}
    kept, left_out = aligned_items(items, tok, n_items=p.n_items, seed=p.seed)
    for lang in p.languages:
        log.info("%s: %d items kept, left out: %s", lang, len(kept[lang]), left_out[lang] or "none")
    df = known_token_lens(model, tok, kept, chat_template=p.chat_template, max_context_tokens=p.max_context_tokens,
                          batch_size=p.batch_size)
    df.insert(0, "model", smk.wildcards.model)
    write_table(df, smk.output.csv)
    write_json(smk.output.kept, {"model": smk.wildcards.model, "kept": {k: len(v) for k, v in kept.items()},
                                  "left_out": left_out, "n_items": p.n_items, "source": p.source})
