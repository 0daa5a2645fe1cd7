"""rule evaluate: one (model, task, language, setting) -> scores JSON and per-item predictions JSONL."""
from mwork.deactivation import setting_masks
from mwork.evaluate import evaluate
from mwork.io import write_json, write_jsonl
from mwork.masking import deactivate
from mwork.models import load_model_params
from mwork.tasks.data import TASK_DATA, load_items
from mwork.tasks.registry import task_stops
from mwork.workflow import rule_script

with rule_script(snakemake) as log:
    smk = snakemake
    p, wc = smk.params, smk.wildcards
    records = load_items(wc.task, wc.lang, p.source, suite_file=(smk.input.data[0] if smk.input.data else None),
                         n_items=p.n_items, seed=p.seed, overrides=p.dataset)
    model, tok = load_model_params(p.model)
    gen = {"max_new_tokens": 32, "stop": [], "max_context_tokens": None, **p.generation}
    masks, deact = {}, {}
    if p.deactivation:  # `<name>@<X>`: deactivate language X's neurons (or the matched random control)
        masks, deact = setting_masks(p.deactivation, list(smk.input.neurons), model)
        log.info("deactivating %s of %s: %s", deact["setting"], deact["neuron_language"], deact["n_deactivated"])
    with deactivate(model, masks):
        scores, rows = evaluate(model, tok, wc.task, wc.lang, records, gen["max_new_tokens"], gen["stop"],
                                batch_size=p.batch_size, chat_template=p.chat_template,
                                max_context_tokens=gen["max_context_tokens"])
    out = {"model": wc.model, "task": wc.task, "dataset": TASK_DATA[wc.task].dataset if p.source == "hub" else
           f"suite:{wc.task}", "language": wc.lang, "setting": wc.setting, **scores,
           "deactivation": deact or None,
           "settings": {"source": p.source, "max_new_tokens": gen["max_new_tokens"],
                        "stop": task_stops(wc.task, wc.lang, gen["stop"]), "max_context_tokens": gen["max_context_tokens"],
                        "batch_size": p.batch_size, "n_items": p.n_items, "chat_template": p.chat_template,
                        "seed": p.seed, "decoding": "greedy"}}
    write_jsonl(smk.output.predictions, rows)
    write_json(smk.output.scores, out)
    log.info("%s %s %s: %s = %.1f over %d items (%d empty generations)", wc.model, wc.task, wc.lang,
             scores["metric"], scores["score"], scores["n_items"], scores["n_empty"])
