"""Figures of the paper, drawn from the CSVs the rules write (so every figure has its numbers beside it)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator

from .io import atomic_path


def _save(fig, paths, **kwargs) -> None:
    """Write the figure to each path (atomically: a killed job leaves no half-written file) and close it."""
    for path in paths:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=130, **kwargs)
    plt.close(fig)


def _layer_axis(ax, **label) -> None:
    """An x axis of layers: labelled, and ticked at whole layers only (18 layers gave 2.5, 7.5, ...)."""
    ax.set_xlabel("layer", **label)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def overlap_figure(panels: list[tuple[str, object]], out_paths: list[str]):
    """Heatmaps of overlap(x, y) (rows x, columns y), one panel per (title, DataFrame); saved to each path."""
    n = len(panels)
    fig, axes = plt.subplots(1, n, figsize=(3.9 * n, 3.4), squeeze=False)
    fig.subplots_adjust(wspace=0.4)
    for ax, (title, df) in zip(axes[0], panels):
        im = ax.imshow(df.values.astype(float), vmin=0, vmax=1, cmap="Blues")
        labels = [str(c).capitalize() for c in df.columns]
        ax.set_xticks(range(len(labels)), labels)
        ax.set_yticks(range(len(df.index)), [str(i).capitalize() for i in df.index])
        for i in range(df.shape[0]):
            for j in range(df.shape[1]):
                v = float(df.values[i, j])
                ax.text(j, i, "—" if v != v else f"{v:.2f}", ha="center", va="center", fontsize=7,
                        color="white" if v > 0.6 else "black")
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("y")
        ax.set_ylabel("x")
    fig.colorbar(im, ax=axes[0].tolist(), shrink=0.8, label="|N_x ∩ N_y| / |N_y|")
    _save(fig, out_paths, bbox_inches="tight")


def activated_figure(df, out_paths: list[str], title: str | None = None):
    """Figure 3: per layer, the share of language X's neuron set that a query activates (the columns of
    ``mwork.neuron_sets.activated_per_layer``), one row per model (``model`` column; else one row titled
    ``title``), one panel per structure. Lines, means over the languages X whose set has neurons in that
    layer: X's own queries (thin: each X), the other languages' queries (band: the least and most of the
    (X, Y) pairs) and a random set of X's sizes under X's queries. Layers where no set has neurons are
    gaps."""
    models = list(dict.fromkeys(df["model"])) if "model" in df.columns else [title]
    fig, axes = plt.subplots(len(models), 2, figsize=(8, 3.2 * len(models)), squeeze=False)
    for row, model in zip(axes, models):
        dm = df[df["model"] == model] if "model" in df.columns else df
        for ax, structure, name in zip(row, ("attn", "ffn"), ("self-attention", "feed-forward")):
            sub = dm[dm["structure"] == structure]
            own = sub[sub["set_language"] == sub["query_language"]]
            cross = sub[sub["set_language"] != sub["query_language"]]
            for _, g in own.groupby("set_language", sort=False):
                ax.plot(g["layer"], g["activated_share"], color="tab:blue", alpha=0.25, lw=0.8, marker="o", ms=1.5)
            mean = own.groupby("layer")["activated_share"].mean()
            ax.plot(mean.index, mean.values, color="tab:blue", marker="o", ms=3, label="own queries")
            if len(cross):
                by = cross.groupby("layer")["activated_share"]
                ax.fill_between(by.min().index, by.min().values, by.max().values, color="tab:orange", alpha=0.2,
                                lw=0)
                ax.plot(by.mean().index, by.mean().values, color="tab:orange", marker="o", ms=3,
                        label="other languages' queries")
            rnd = own.groupby("layer")["random"].mean()
            ax.plot(rnd.index, rnd.values, color="gray", ls="--", marker="o", ms=2, label="random set, own queries")
            ax.set_ylim(-0.02, 1.02)
            ax.set_title(f"{model}: {name}" if model is not None else name, fontsize=9)
            _layer_axis(ax)
            ax.set_ylabel("share of the set activated", fontsize=8)
    fig.legend(*axes[0][0].get_legend_handles_labels(), loc="lower center", ncol=3, fontsize=7, frameon=False)
    fig.tight_layout(rect=(0, 0.2 / (3.2 * len(models)), 1, 1))  # room for the legend below the panels
    _save(fig, out_paths)


def language_ratio_figure(ratios, out_paths: list[str]):
    """Figure 1: shares of English, non-English and the query's own language among each layer's
    lens-decoded words, given non-English queries (mean over the query languages; thin lines: each
    language), one column per model. Top row: among all detected words; bottom row (when the ratios
    have it): among the words detected as one of the query languages (the released code's view)."""
    models = list(dict.fromkeys(ratios["model"]))
    views = [("all detected words", {"english": ("tab:blue", "English"), "non_english": ("tab:orange", "Non-English"),
                                     "query_language": ("tab:green", "query's language")})]
    if "english_eval" in ratios.columns and ratios["eval_words"].sum() > 0:
        views.append(("words of the query languages", {"english_eval": ("tab:blue", "English"),
                                                       "query_language_eval": ("tab:green", "query's language")}))
    fig, axes = plt.subplots(len(views), len(models), figsize=(4.2 * len(models), 3.2 * len(views)), squeeze=False)
    for row, (view, cols) in zip(axes, views):
        for ax, model in zip(row, models):
            sub = ratios[(ratios["model"] == model) & (ratios["language"] != "en")]
            for col, (color, name) in cols.items():
                for _, g in sub.groupby("language", sort=False):
                    ax.plot(g["layer"], g[col], color=color, alpha=0.25, lw=0.8)
                mean = sub.groupby("layer")[col].mean()
                ax.plot(mean.index, mean.values, color=color, marker="o", ms=3, label=name)
            ax.set_ylim(-0.02, 1.02)
            ax.set_title(f"{model}: non-English queries", fontsize=9)
            _layer_axis(ax)
            ax.set_ylabel(f"ratio among {view}", fontsize=8)
            ax.legend(fontsize=7)
    fig.tight_layout()
    _save(fig, out_paths)


def languages_per_layer_figure(counts, out_paths: list[str], top: int = 4):
    """Figure 7: for each model (rows) and query language (columns), the share of each detected language
    among the decoded words per layer: the ``top`` most frequent languages of the model given non-English
    queries, the rest as other."""
    words = counts[counts["detected"] != "non-word"]  # mwork.lens.NON_WORD (not imported: lens needs torch)
    models = list(dict.fromkeys(counts["model"]))
    langs = list(dict.fromkeys(counts["language"]))
    fig, axes = plt.subplots(len(models), len(langs), figsize=(2.6 * len(langs), 2.4 * len(models)),
                             squeeze=False, sharey=True)
    for r, model in enumerate(models):
        wm = words[words["model"] == model]
        non_en = wm[wm["language"] != "en"]  # the most frequent languages given non-English queries
        shown = list((non_en if len(non_en) else wm).groupby("detected")["tokens"].sum()
                     .sort_values(ascending=False).index[:top])
        for c, lang in enumerate(langs):
            ax = axes[r][c]
            g = wm[wm["language"] == lang]
            total = g.groupby("layer")["tokens"].sum()
            for det in shown + ["other"]:
                part = g[~g["detected"].isin(shown)] if det == "other" else g[g["detected"] == det]
                share = (part.groupby("layer")["tokens"].sum().reindex(total.index, fill_value=0) / total)
                ax.plot(share.index, share.values, marker="o", ms=2, label=det)
            ax.set_ylim(-0.02, 1.02)
            ax.set_title(f"{model}: {lang} queries", fontsize=8)
            _layer_axis(ax, fontsize=7)
        axes[r][0].set_ylabel("ratio among decoded words", fontsize=7)
        axes[r][-1].legend(fontsize=6)
    fig.tight_layout()
    _save(fig, out_paths)


def loss_matrix_figure(df, out_paths: list[str], method: str | None = None, texts: str = "held-out"):
    """Heatmaps of Δ held-out loss (rows: whose neurons are deactivated, columns: the language measured),
    language-specific and random-control panels side by side, one row of panels per model, one colour scale.
    ``method``: the selection rule of X's sets (plnd.selection.method), named in their panels' titles; the
    further families are titled by their own (rule) names; ``texts``: what Y's loss is measured on."""
    models = list(dict.fromkeys(df["model"]))
    own = f"X's set ({method})" if method else "X's set"
    titles = {"lang": own, "lang_random": "random (size of X's set)",
              "specific": f"{own} minus every language's", "specific_random": "random (size of that)"}
    # further families of sets (loss_matrix(families=...)) follow, titled by name
    variants = [v for v in titles if v in set(df["neurons"])] + [v for v in dict.fromkeys(df["neurons"]) if v not in titles]
    fig, axes = plt.subplots(len(models), len(variants), figsize=(4 * len(variants), 3.4 * len(models)), squeeze=False)
    for row, model in zip(axes, models):
        # one colour scale per model: a few neurons can break a real model, and its scale is its own
        vmax = max(float(df[df["model"] == model]["delta"].abs().max()), 1e-6)
        for ax, neurons in zip(row, variants):
            title = titles.get(neurons, neurons)
            sub = df[(df["model"] == model) & (df["neurons"] == neurons)]
            mat = sub.pivot(index="deactivated", columns="evaluated", values="delta")
            order = list(dict.fromkeys(sub["deactivated"]))
            mat = mat.reindex(index=order, columns=list(dict.fromkeys(sub["evaluated"])))
            im = ax.imshow(mat.values.astype(float), vmin=-vmax, vmax=vmax, cmap="RdBu_r")
            ax.set_xticks(range(mat.shape[1]), [str(c).capitalize() for c in mat.columns])
            ax.set_yticks(range(mat.shape[0]), [str(i).capitalize() for i in mat.index])
            for i in range(mat.shape[0]):
                for j in range(mat.shape[1]):
                    v = float(mat.values[i, j])
                    ax.text(j, i, f"{v:+.2f}", ha="center", va="center", fontsize=7,
                            color="white" if abs(v) > 0.6 * vmax else "black")
            ax.set_title(f"{model}: {title}", fontsize=9)
            ax.set_xlabel(f"{texts} loss of language Y")
            if ax is row[0]:
                ax.set_ylabel("neurons of language X deactivated")
        fig.colorbar(im, ax=row.tolist(), shrink=0.8, label="Δ loss (nats / token)")
    _save(fig, out_paths, bbox_inches="tight")


def stability_figure(df, paths, title: str) -> None:
    """One row per selection method: the set's share of the model's neurons (mean ± sd over seeds), the share
    of the set that every language's set holds, and the Jaccard similarity between the seeds' sets, against
    documents; one colour per language, one line style per min_doc_fraction."""
    methods = list(dict.fromkeys(df["method"])) if "method" in df.columns else [None]
    fig, axes = plt.subplots(len(methods), 3, figsize=(14, 3.6 * len(methods)), squeeze=False)
    styles = ["-", "--", ":", "-."]
    colors = {lang: f"C{i}" for i, lang in enumerate(dict.fromkeys(df["language"]))}
    fractions = sorted(df["min_doc_fraction"].dropna().unique())
    for row, method in zip(axes, methods):
        sub = df if method is None else df[df["method"] == method]
        for (lang, f), g in sub.fillna({"min_doc_fraction": -1}).groupby(["language", "min_doc_fraction"], sort=False):
            style = styles[fractions.index(f) % len(styles)] if f in fractions else "-"
            label = f"{lang}" + (f" f={f:g}" if f in fractions else "")
            sd = (g["share_mean"] * g["size_sd"] / g["size_mean"]).where(g["size_mean"] > 0, 0.0)
            row[0].errorbar(g["n_docs"], 100 * g["share_mean"], yerr=100 * sd, ls=style, color=colors[lang], label=label, marker="o", ms=3, capsize=2)
            row[1].plot(g["n_docs"], g["shared_by_all_share"], ls=style, color=colors[lang], marker="o", ms=3)
            row[2].plot(g["n_docs"], g["jaccard_seeds"], ls=style, color=colors[lang], marker="o", ms=3)
        for ax, ylabel in zip(row, ("% of the model's neurons in the set", "share of the set in every language's set",
                                    "Jaccard between seeds' sets")):
            ax.set_xscale("log")
            ax.set_xlabel("documents PLND reads")
            ax.set_ylabel(ylabel)
            ax.grid(alpha=0.3)
            if method is not None:
                ax.set_title(method, fontsize=9)
        row[0].set_yscale("log")
        row[0].axhline(0.13, color="grey", lw=0.8, ls=":")  # the paper's share
        row[0].legend(fontsize=6, ncol=2)
    fig.suptitle(title)
    fig.tight_layout()
    _save(fig, paths)


def enhance_figure(df, paths) -> None:
    """Enhancement: change of held-out perplexity (%) against tuning documents, for the tuned language (left)
    and the mean over the other languages (right); the controls at their size as markers."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), sharey=False)
    for ax, own, title in zip(axes, (True, False), ("the tuned language", "the other languages (mean)")):
        sub = df[df["own"] == own]
        lang = sub[sub["kind"] == "lang"].groupby(["model", "tuned", "n_docs"])["change_pct"].mean().reset_index()
        for i, ((model, tuned), g) in enumerate(lang.groupby(["model", "tuned"], sort=False)):
            ax.plot(g["n_docs"], g["change_pct"], marker="o", ms=3, color=f"C{i % 10}", label=f"{tuned} ({model})")
            for kind, marker in (("random", "x"), ("lora", "s")):
                c = sub[(sub["model"] == model) & (sub["tuned"] == tuned) & (sub["kind"] == kind)]
                if len(c):
                    ax.scatter(c["n_docs"].iloc[0], c["change_pct"].mean(), marker=marker, color=f"C{i % 10}")
        ax.axhline(0, color="grey", lw=0.5)
        ax.set_xscale("log")
        ax.set_xlabel("tuning documents")
        ax.set_ylabel("held-out perplexity change (%)")
        ax.set_title(f"{title}; x = random neurons, ■ = LoRA", fontsize=9)
    axes[0].legend(fontsize=6, ncol=2)
    fig.tight_layout()
    _save(fig, paths)


def figure4_plot(df, paths) -> None:
    """Figure 4: the mean change of the tuned languages' task scores (points) per number of tuning documents,
    and Random and LoRA at the control size, one panel per task and one for English (scored, not tuned);
    bars with 95% paired bootstrap CIs, one colour per model."""
    everything = df[(df["language"] == "avg") & (df["task"] == "all")]
    avg = df[(df["language"] == "avg") & (df["task"] != "all")]
    tasks = list(dict.fromkeys(avg["task"]))
    labels = sorted({t for t in avg["tuning"] if t.isdigit()}, key=int) + [t for t in ("Random", "LoRA")
                                                                            if t in set(avg["tuning"])]
    models = list(dict.fromkeys(avg["model"]))
    panels = [(t, avg[avg["task"] == t], "change") for t in tasks]
    if "en_change" in everything and everything["en_change"].notna().any():
        panels.append(("en", everything, "en_change"))
    fig, axes = plt.subplots(1, len(panels), figsize=(2.9 * len(panels), 3.2), squeeze=False)
    width = 0.8 / max(len(models), 1)
    for ax, (task, sub, col) in zip(axes[0], panels):
        for j, model in enumerate(models):
            g = sub[sub["model"] == model].set_index("tuning")
            xs = [i + (j - (len(models) - 1) / 2) * width for i, lab in enumerate(labels) if lab in g.index]
            rows = g.loc[[lab for lab in labels if lab in g.index]]
            err = [(rows[col] - rows[f"{col}_lo"]).clip(lower=0), (rows[f"{col}_hi"] - rows[col]).clip(lower=0)]
            ax.bar(xs, rows[col], width=width, yerr=err, capsize=2, color=f"C{j % 10}", label=model)
        ax.axhline(0, color="grey", lw=0.5)
        ax.set_xticks(range(len(labels)), labels, fontsize=7)
        ax.set_title("English, all tasks (not tuned)" if task == "en" else str(sub["dataset"].iloc[0]), fontsize=9)
        ax.set_xlabel("tuning documents")
    axes[0][0].set_ylabel("score change (points)")
    if len(models) > 1:
        axes[0][-1].legend(fontsize=7)
    fig.tight_layout()
    _save(fig, paths)


def known_token_figure(summary, out_paths: list[str]):
    """Figure 1 from known answer tokens: per model (rows) and query language (columns), the logit lens's
    probability of the answer's first token in the query's language and of the English answer's, per
    layer, with 95% bootstrap bands; grey: layers where the English answer is the more likely (interval
    of the difference above 0, the English answer's probability at least lens.known.min_prob). English
    queries are the control (both curves are the English answer)."""
    models = list(dict.fromkeys(summary["model"]))
    langs = list(dict.fromkeys(summary["language"]))
    fig, axes = plt.subplots(len(models), len(langs), figsize=(2.6 * len(langs), 2.4 * len(models)),
                             squeeze=False, sharey="row")
    for row, model in zip(axes, models):
        for ax, lang in zip(row, langs):
            g = summary[(summary["model"] == model) & (summary["language"] == lang)].sort_values("layer")
            if g.empty:
                ax.set_axis_off()
                continue
            for layer in g.loc[g["english_dominant"].astype(bool), "layer"]:
                ax.axvspan(layer - 0.5, layer + 0.5, color="0.9", lw=0)
            for col, color, name in (("p_en", "tab:blue", "English answer"),
                                     ("p_lang", "tab:green", "query-language answer")):
                if lang == "en" and col == "p_lang":
                    continue
                ax.fill_between(g["layer"], g[f"{col}_lo"], g[f"{col}_hi"], color=color, alpha=0.2, lw=0)
                ax.plot(g["layer"], g[col], color=color, marker="o", ms=2, lw=1, label=name)
            ax.set_title(f"{model}: {lang} queries (n={int(g['n_items'].iloc[0])})", fontsize=8)
            _layer_axis(ax, fontsize=8)
            ax.tick_params(labelsize=7)
        row[0].set_ylabel("lens probability", fontsize=8)
    axes[0][-1].legend(fontsize=6)
    fig.tight_layout()
    _save(fig, out_paths)
