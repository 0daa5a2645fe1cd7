"""rule evaluate: one (model, task, language, setting) -> scores JSON and per-item predictions JSONL."""
import json
from pathlib import Path

from mwork.arch import get_adapter
from mwork.deactivation import count, select, stage_layers
from mwork.errors import MworkError
from mwork.evaluate import evaluate
from mwork.io import write_json, write_jsonl
from mwork.masking import deactivate
from mwork.models import load_model_params
from mwork.neurons import load_neurons
from mwork.tasks.data import TASK_DATA, load_items
from mwork.workflow import rule_script

with rule_script(snakemake) as log:  # noqa: F821
    smk = snakemake  # noqa: F821
    p, wc = smk.params, smk.wildcards
    records = load_items(wc.task, wc.lang, p.source, suite_file=(smk.input.data[0] if smk.input.data else None),
                         n_items=p.n_items, seed=p.seed, overrides=p.dataset)
    model, tok = load_model_params(p.model)
    gen = {"max_new_tokens": 32, "stop": [], **p.generation}
    masks, deact = {}, {}
    if p.deactivation:  # `<name>@<X>`: deactivate language X's neurons (or the matched random control)
        d = dict(p.deactivation)
        files = {Path(f).stem: f for f in smk.input.neurons if f.endswith(".safetensors")}
        if d["stages"] in ("auto", "lens"):  # boundaries tuned (rule stage_tuning) or read off the lens (lens_stages)
            path = next(f for f in smk.input.neurons if f.endswith("stages.json"))
            found = json.load(open(path, encoding="utf-8"))
            if found["under"] is None:
                raise MworkError(f"{path}: no stage boundaries ({found.get('note')}); give the model's stages: "
                                 f"{{under, gen}} in the config instead of {d['stages']}")
            d["stages"] = stage_layers(found["layers"], found["under"], found["gen"], where=path)
        lang_tensors, _ = load_neurons(files[d["language"]], model=model, masks_only=False)
        others = [load_neurons(f, model=model)[0] for x, f in files.items() if x != d["language"]]
        masks = select(d["spec"], lang_tensors, d["stages"], get_adapter(model).sizes(), seed=d["seed"],
                       budget=d["budget"], exclude_masks=others if d["spec"].get("exclude") == "en" else None,
                       exclude_all=[lang_tensors] + others if d["spec"].get("exclude") == "all" else None)
        deact = {"setting": d["name"], "neuron_language": d["language"], **d["spec"], "stages": d["stages"],
                 "n_deactivated": count(masks)}
        log.info("deactivating %s of %s: %s", d["name"], d["language"], deact["n_deactivated"])
    with deactivate(model, masks):
        scores, rows = evaluate(model, tok, wc.task, wc.lang, records, gen["max_new_tokens"], gen["stop"],
                                batch_size=p.batch_size, chat_template=p.chat_template)
    out = {"model": wc.model, "task": wc.task, "dataset": TASK_DATA[wc.task].dataset if p.source == "hub" else
           f"suite:{wc.task}", "language": wc.lang, "setting": wc.setting, **scores,
           "deactivation": deact or None,
           "settings": {"source": p.source, "max_new_tokens": gen["max_new_tokens"], "stop": gen["stop"],
                        "batch_size": p.batch_size, "n_items": p.n_items, "chat_template": p.chat_template,
                        "seed": p.seed, "decoding": "greedy"}}
    write_jsonl(smk.output.predictions, rows)
    write_json(smk.output.scores, out)
    log.info("%s %s %s: %s = %.1f over %d items (%d empty generations)", wc.model, wc.task, wc.lang,
             scores["metric"], scores["score"], scores["n_items"], scores["n_empty"])
