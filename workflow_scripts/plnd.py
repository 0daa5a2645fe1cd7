"""rule plnd: every neuron's PLND statistics over one (model, corpus, language)'s documents -> a safetensors file."""
import torch

import mwork
from mwork.corpus import n_docs_for, read_corpus
from mwork.errors import MworkError
from mwork.fingerprint import model_fingerprint
from mwork.io import file_sha256
from mwork.models import check_window, load_model_params
from mwork.neurons import Scoring, Selector, detect, save_neurons
from mwork.workflow import rule_script

with rule_script(snakemake) as log:
    smk = snakemake
    p, wc = smk.params, smk.wildcards
    docs = read_corpus(smk.input.corpus)
    if p.split != "all":
        docs = [d for d in docs if d["split"] == p.split]
    want = n_docs_for({"n_docs": p.n_docs}, wc.lang)
    if want != "all":
        if want > len(docs):
            raise MworkError(f"plnd.n_docs: corpus {wc.corpus!r} has only {len(docs)} {p.split} documents for "
                             f"{wc.lang!r}, but {want} were requested; lower plnd.n_docs or use a larger corpus")
        docs = docs[:want]
    model, tok = load_model_params(p.model)
    check_window(model, p.max_length, "config.plnd.max_length")
    torch.manual_seed(0)
    sel = Selector(**p.statistics)
    scoring = Scoring(**p.scoring)
    stats = detect(model, tok, [d["text"] for d in docs], sel, batch_size=p.batch_size, max_length=p.max_length,
                   scoring=scoring)
    log.info("PLND over %d documents, %d tokens (%d truncated to %d tokens, %d empty skipped; %d special-token "
             "positions not counted)", stats["documents"], stats["tokens"], stats["truncated"], p.max_length,
             stats["empty_skipped"], stats["special_positions_left_out"])
    meta = {"model": p.model["location"], "model_revision": p.model["revision"] or "",
            "model_fingerprint": model_fingerprint(model), "language": wc.lang, "corpus": wc.corpus,
            "corpus_sha256": file_sha256(smk.input.corpus), "split": p.split, "n_docs": stats["documents"],
            "truncated_docs": stats["truncated"], "empty_docs": stats["empty_skipped"], "max_length": p.max_length,
            "statistics": sel.settings(), **scoring.settings(), "qk_kernel": scoring.qk_path(model),
            "tokens": stats["tokens"],
            "special_positions_left_out": stats["special_positions_left_out"], "mwork_version": mwork.__version__}
    save_neurons(smk.output[0], sel.stats(), meta)
