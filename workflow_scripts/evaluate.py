"""rule evaluate: one (model, task, language, setting) -> scores JSON and per-item predictions JSONL."""
from mwork.errors import MworkError
from mwork.evaluate import evaluate
from mwork.io import write_json, write_jsonl
from mwork.models import load_model
from mwork.tasks.data import TASK_DATA, load_items
from mwork.workflow import rule_script

with rule_script(snakemake) as log:  # noqa: F821
    smk = snakemake  # noqa: F821
    p, wc = smk.params, smk.wildcards
    if wc.setting != "original":
        raise MworkError(f"evaluation setting {wc.setting!r}: only 'original' exists until the deactivation "
                         f"settings are implemented (deactivation issue)")
    records = load_items(wc.task, wc.lang, p.source, suite_file=(smk.input.data[0] if smk.input.data else None),
                         n_items=p.n_items, seed=p.seed, overrides=p.dataset)
    model, tok = load_model(p.model["location"], dtype=p.model["dtype"], revision=p.model["revision"])
    gen = {"max_new_tokens": 32, "stop": [], **p.generation}
    scores, rows = evaluate(model, tok, wc.task, wc.lang, records, gen["max_new_tokens"], gen["stop"],
                            batch_size=p.batch_size, chat_template=p.chat_template)
    out = {"model": wc.model, "task": wc.task, "dataset": TASK_DATA[wc.task].dataset if p.source == "hub" else
           f"suite:{wc.task}", "language": wc.lang, "setting": wc.setting, **scores,
           "settings": {"source": p.source, "max_new_tokens": gen["max_new_tokens"], "stop": gen["stop"],
                        "batch_size": p.batch_size, "n_items": p.n_items, "chat_template": p.chat_template,
                        "seed": p.seed, "decoding": "greedy"}}
    write_jsonl(smk.output.predictions, rows)
    write_json(smk.output.scores, out)
    log.info("%s %s %s: %s = %.1f over %d items (%d empty generations)", wc.model, wc.task, wc.lang,
             scores["metric"], scores["score"], scores["n_items"], scores["n_empty"])
