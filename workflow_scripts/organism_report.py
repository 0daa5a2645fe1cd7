"""rule organism_report: per-language held-out perplexity and the training-curve figure."""
import matplotlib

matplotlib.use("Agg")
import math  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from mwork.io import atomic_path, write_table  # noqa: E402
from mwork.models import load_model  # noqa: E402
from mwork.organism import heldout_loss, load_corpus  # noqa: E402
from mwork.workflow import rule_script  # noqa: E402

with rule_script(snakemake) as log:
    model, tok = load_model(snakemake.input.model)
    rows = []
    for lang, docs in load_corpus(snakemake.input.corpus).items():
        texts = [d["text"] for d in docs if d["split"] == "heldout"]
        loss, n = heldout_loss(model, tok, texts, snakemake.params.seq_len)
        rows.append({"language": lang, "heldout_documents": len(texts), "tokens": n, "loss_nats": round(loss, 4),
                     "perplexity": round(math.exp(loss), 2)})
        log.info("%s: held-out loss %.3f nats, perplexity %.1f over %d tokens", lang, loss, math.exp(loss), n)
    write_table(pd.DataFrame(rows), snakemake.output.perplexity)
    curve = pd.read_csv(snakemake.input.curve)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(curve["step"], curve["train_loss"], label="train (mix)")
    for col, label in (("heldout_loss_en", "held-out corpus, English"),
                       ("heldout_loss_mean", "held-out corpus, mean over languages")):
        if col in curve:
            ax.plot(curve["step"], curve[col], marker="o", label=label)
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("loss (nats/token)")
    ax.set_title("Model organism training")
    ax.legend()
    fig.tight_layout()
    with atomic_path(snakemake.output.curve_png) as tmp:
        fig.savefig(tmp, dpi=120)
