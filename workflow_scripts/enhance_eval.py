"""rule enhance_eval: the original model or one tuning (base + delta) scored on its (task, language) pairs
with the evaluation rule's harness and settings; one scores file holding every pair."""
import time
from pathlib import Path

from mwork.evaluate import engine_cast, run_task
from mwork.io import write_json, write_jsonl
from mwork.models import load_model_params
from mwork.tasks.data import load_items
from mwork.workflow import rule_script

with rule_script(snakemake) as log:
    smk = snakemake
    p, wc = smk.params, smk.wildcards
    model, tok = load_model_params(p.model)
    engine_cast(model, p.engine)
    suites = {f"{Path(f).parent.name}/{Path(f).name.split('.')[0]}": f for f in smk.input.data}  # task/lang -> file
    scores, predictions = [], []
    for task, lang in p.pairs:
        start = time.perf_counter()
        records = load_items(task, lang, p.source[task], suite_file=suites.get(f"{task}/{lang}"),
                             n_items=p.n_items[task], seed=p.seed, overrides=p.dataset.get(task, {}),
                             folder=p.folder.get(task))
        out, rows = run_task(model, tok, model_name=p.name, task=task, lang=lang, setting="original",
                             source=p.source[task], records=records, generation=p.generation.get(task, {}),
                             batch_size=p.batch_size, n_items=p.n_items[task], chat_template=p.chat_template,
                             seed=p.seed, engine=p.engine)
        scores.append(out)
        predictions += [{"task": task, "language": lang, **row} for row in rows]
        log.info("%s %s %s: %s = %.1f over %d items (%.1f s)", p.name, task, lang, out["metric"], out["score"],
                 out["n_items"], time.perf_counter() - start)
    write_jsonl(smk.output.predictions, predictions)
    write_json(smk.output.scores, {"model": p.name, "base": wc.model, "tuning": wc.finetune,
                                   "delta": p.model.get("delta"), "scores": scores})
