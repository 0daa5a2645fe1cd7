"""rule evaluate: one (model, task, language, setting) -> scores JSON and per-item predictions JSONL."""
from mwork.deactivation import setting_masks
from mwork.evaluate import engine_cast, run_task
from mwork.gencache import GenerationStore
from mwork.io import read_jsonl, write_json, write_jsonl
from mwork.masking import deactivate
from mwork.models import load_model_params
from mwork.tasks.data import load_items
from mwork.workflow import rule_script

with rule_script(snakemake) as log:
    smk = snakemake
    p, wc = smk.params, smk.wildcards
    records = load_items(wc.task, wc.lang, p.source, suite_file=(smk.input.data[0] if smk.input.data else None),
                         n_items=p.n_items, seed=p.seed, overrides=p.dataset, folder=p.folder, holdout=p.holdout)
    model, tok = load_model_params(p.model)
    masks, deact = {}, {}
    if p.deactivation:  # `<name>@<X>`: deactivate language X's neurons (or the matched random control)
        masks, deact = setting_masks(p.deactivation, list(smk.input.neurons), model)
        log.info("deactivating %s of %s: %s", deact["setting"], deact["neuron_language"], deact["n_deactivated"])
    engine_cast(model, p.engine)  # after the neuron files were checked against the stored weights
    # generations stored as they are made (eval.cache): a rerun generates only what is not stored yet
    # eval.engine.draft: original: the model's own answers (setting `original`), each checked before generating
    drafts = {r["prompt"]: r["prediction"] for f in smk.input.draft for r in read_jsonl(f)} if smk.input.draft else None
    store = GenerationStore.open(model, tok, masks, model_name=wc.model, task=wc.task, lang=wc.lang) if p.cache else None
    with deactivate(model, masks):
        out, rows = run_task(model, tok, model_name=wc.model, task=wc.task, lang=wc.lang, setting=wc.setting,
                             source=p.source, records=records, generation=p.generation, batch_size=p.batch_size,
                             n_items=p.n_items, chat_template=p.chat_template, seed=p.seed, deactivation=deact,
                             engine=p.engine, store=store, drafts=drafts)
    write_jsonl(smk.output.predictions, rows)
    write_json(smk.output.scores, out)
    log.info("%s %s %s: %s = %.1f over %d items (%d empty generations)", wc.model, wc.task, wc.lang,
             out["metric"], out["score"], out["n_items"], out["n_empty"])
