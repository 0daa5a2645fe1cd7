"""Figures of the paper, drawn from the CSVs the rules write (so every figure has its numbers beside it)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def overlap_figure(panels: list[tuple[str, "object"]], out_paths: list[str]):
    """Heatmaps of overlap(x, y) (rows x, columns y), one panel per (title, DataFrame); saved to each path."""
    from .io import atomic_path

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
    for path in out_paths:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=130, bbox_inches="tight")
    plt.close(fig)


def activated_figure(df, out_paths: list[str], title: str):
    """Figure 3: mean activated language-specific neurons per layer, attention and FFN, one line per language."""
    from .io import atomic_path

    fig, axes = plt.subplots(1, 2, figsize=(8, 3.2), sharex=True)
    for ax, structure, name in zip(axes, ("attn", "ffn"), ("self-attention", "feed-forward")):
        sub = df[df["structure"] == structure]
        for lang, g in sub.groupby("language", sort=False):
            ax.plot(g["layer"], g["activated"], marker="o", ms=3, label=str(lang).capitalize())
        ax.set_title(f"{title}: {name}", fontsize=9)
        ax.set_xlabel("layer")
        ax.set_ylabel("activated language-specific neurons")
    axes[1].legend(fontsize=7)
    fig.tight_layout()
    for path in out_paths:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=130)
    plt.close(fig)
