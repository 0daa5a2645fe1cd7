"""rule enhance: tune one language's neurons (or a control) on n of its documents; the trained slices (or
the LoRA adapter) as a small safetensors file, and the held-out perplexity of every language after."""
import json
import resource
import time
import zlib

import torch

from mwork.arch import get_adapter
from mwork.corpus import read_corpus
from mwork.deltas import build_slices, lora_model, merge_deltas, n_trainable, save_deltas
from mwork.enhance import heldout_perplexity, lora_rank, random_like, token_batches, train, train_lora
from mwork.errors import MworkError
from mwork.fingerprint import model_fingerprint
from mwork.io import file_sha256, write_json
from mwork.models import load_model_params
from mwork.names import Variant
from mwork.neurons import corpus_of, load_neurons, mask_keys
from mwork.workflow import rule_script

with rule_script(snakemake) as log:
    smk = snakemake
    p, wc = smk.params, smk.wildcards
    hp = p.train
    variant = Variant.parse(wc.variant)
    docs = [d for d in read_corpus(smk.input.corpus) if d["split"] == "train"]
    if len(docs) < variant.n_docs:
        raise MworkError(f"enhance.sizes: corpus {p.corpus!r} has {len(docs)} training documents in {wc.lang!r}, "
                         f"but {wc.variant} needs {variant.n_docs}; give {wc.lang} smaller sizes "
                         f"(enhance.sizes.{wc.lang}) or add sources to corpora.{p.corpus}")
    texts = [d["text"] for d in docs[:variant.n_docs]]
    model, tok = load_model_params(p.model)
    fingerprint = model_fingerprint(model)
    # refuses a file made for another model, or for another language or corpus
    masks, _ = load_neurons(smk.input.neurons, model=model, language=wc.lang, corpus=corpus_of(smk.input.neurons))
    masks = {k: masks[k] for k in mask_keys(masks)}
    if not any(bool(m.any()) for m in masks.values()):
        raise MworkError(f"{smk.input.neurons}: {wc.lang}'s neuron set is empty; there is nothing to tune")
    if variant.kind == "random":
        seed = zlib.crc32(f"{p.seed}-{wc.model}-{wc.lang}-random-{variant.seed}".encode())
        masks = random_like(masks, get_adapter(model).sizes(), seed)
    slices = build_slices(model, masks)
    n_neuron_params = n_trainable(slices)
    batches = token_batches(tok, texts, hp["batch_size"], hp["max_length"], seed=p.seed)
    batches = batches * hp["epochs"]
    kwargs = dict(lr=hp["lr"], weight_decay=hp["weight_decay"], warmup=hp["warmup"], max_grad_norm=hp["max_grad_norm"],
                  seed=p.seed)
    meta = {"base_model": p.model["location"], "base_fingerprint": fingerprint, "language": wc.lang,
            "variant": wc.variant, "neuron_file_sha256": file_sha256(smk.input.neurons), "corpus": p.corpus,
            "n_docs": variant.n_docs, "data_sha256": file_sha256(smk.input.corpus), "seed": p.seed,
            "hyperparameters": hp}
    start = time.perf_counter()
    if variant.kind == "lora":
        from peft import get_peft_model_state_dict
        from safetensors.torch import save_file

        from mwork.io import atomic_path

        rank = lora_rank(model, n_neuron_params)
        peft = lora_model(model, rank, seed=p.seed)
        n_params = sum(x.numel() for x in peft.parameters() if x.requires_grad)
        history = train_lora(peft, batches, **kwargs)
        state = {k: v.detach().cpu().contiguous() for k, v in get_peft_model_state_dict(peft).items()}
        with atomic_path(smk.output.delta) as tmp:
            save_file(state, str(tmp), metadata={"mwork": json.dumps({**meta, "lora_rank": rank}, sort_keys=True)})
        model = peft.merge_and_unload()
    else:
        rank, n_params = None, n_neuron_params
        history = train(model, slices, batches, **kwargs)
        save_deltas(smk.output.delta, slices, meta)
        with torch.no_grad():
            merge_deltas(slices)
    seconds = time.perf_counter() - start
    model.eval()
    with torch.no_grad():
        after = heldout_perplexity(model, tok, list(smk.input.heldout), p.languages, p.perplexity["n_docs"],
                                   p.perplexity["max_length"])
    total = sum(x.numel() for x in model.parameters())
    result = {**meta, "kind": variant.kind, "trainable_params": n_params, "neuron_params": n_neuron_params,
              "model_params": total, "lora_rank": rank, "steps": len(batches), "train_seconds": seconds,
              "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
              "loss_first": history["loss"][0], "loss_last": history["loss"][-1], "perplexity": after}
    write_json(smk.output.result, result)
    log.info("%s %s: %d trainable parameters (%.4f%% of %d), %d steps in %.1f s; loss %.3f -> %.3f; own perplexity "
             "%.2f", wc.lang, wc.variant, n_params, 100 * n_params / total, total, len(batches), seconds,
             history["loss"][0], history["loss"][-1], after.get(wc.lang, float("nan")))
