"""Error bars: 95% bootstrap confidence intervals over test items, paired wherever the same items are
compared (a language's items before and under a deactivation, English under every X's deactivation).

One ``Bootstrap`` draws, per replicate, one resample of each language's items and applies it to every
evaluation of that language, so a Δ between two evaluations of the same items is resampled as a pair and
the CI of a mean over languages combines the languages' independent resamples. Items are aligned by id
(the evaluation rule writes each item's id and value in its scores file).
"""

from __future__ import annotations

import math

import numpy as np

from .errors import MworkError

N_BOOT = 1000
LEVEL = 0.95


def item_values(score: dict, key: str = "score") -> dict:
    """{item id: value} of one scores file (``key``: ``score`` or a per-item extra such as
    ``rougeL_ascii``), in percent as the summary's mean."""
    where = f"{score.get('model')}/{score.get('task')}/{score.get('language')}/{score.get('setting')}"
    items = score.get("items")
    if not items or key not in items:
        raise MworkError(f"{where}: no per-item {key!r} values (scores written before error bars existed); delete the "
                         f"scores file and rerun rule evaluate")
    _check_values(items, key, where)
    return dict(zip(items["id"], items[key]))


FIX = "delete the scores file and rerun rule {rule} (it writes it)"


def _check_values(items: dict, key: str, where: str, rule: str = "evaluate") -> list[float]:
    """The per-item ``key`` values: a finite number for each id (a hand-edited NaN, null or text would give a
    table "±nan", a dash or a ValueError)."""
    ids, values = items.get("id"), items.get(key)
    if not isinstance(ids, list) or not isinstance(values, list) or len(ids) != len(values):
        raise MworkError(f"{where}: items.{key} is not a list of one value per item id; {FIX.format(rule=rule)}")
    for i, v in zip(ids, values):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise MworkError(f"{where}: item {i!r} has {key} {v!r}, not a finite number; {FIX.format(rule=rule)}")
    return values


def check_scores(score: dict, where: str, rule: str = "evaluate") -> None:
    """A scores file's per-item values (when it has them) are finite numbers, and each summary value (``score``,
    ``em``, ``f1``, ``rougeL_ascii``, ...) is their mean to rounding and ``n_items`` their number: the tables
    show the summary with the items' bootstrap interval, so a hand-edited summary would show as a result.
    ``rule``: the rule that writes the file (named in the error)."""
    fix = FIX.format(rule=rule)
    items = score.get("items")
    if items is None:
        return
    if not isinstance(items, dict) or not isinstance(items.get("id"), list):
        raise MworkError(f"{where}: items is not a mapping with a list of item ids; {fix}")
    n = len(items["id"])
    if isinstance(score.get("n_items"), int) and score["n_items"] != n:
        raise MworkError(f"{where}: n_items is {score['n_items']}, but it lists {n} items; {fix}")
    for key in items:
        if key == "id":
            continue
        values = _check_values(items, key, where, rule)
        summary = score.get(key)
        if not values or summary is None or isinstance(summary, bool) or not isinstance(summary, (int, float)):
            continue
        mean = math.fsum(values) / len(values)
        if not math.isclose(summary, mean, rel_tol=1e-9, abs_tol=1e-6):
            raise MworkError(f"{where}: {key} is {summary!r}, but its {n} items average {mean:.6g} (edited by hand?); "
                             f"{fix}")


def not_a_number(x) -> bool:
    """Whether ``x`` is missing as a number: NaN, None, or not numeric (a CSV cell left empty)."""
    try:
        return math.isnan(float(x))
    except (TypeError, ValueError):
        return True


class Bootstrap:
    """Paired resamples of each language's items, drawn once (``n_boot`` replicates, seeded)."""

    def __init__(self, n_boot: int = N_BOOT, seed: int = 0):
        self.n_boot, self.seed = n_boot, seed
        self._idx: dict[tuple, np.ndarray] = {}
        self._ids: dict[tuple, list] = {}

    def _draw(self, group: tuple, ids: list) -> np.ndarray:
        if group not in self._idx:
            rng = np.random.default_rng([self.seed, len(self._idx)])
            self._ids[group] = list(ids)
            self._idx[group] = rng.integers(0, len(ids), size=(self.n_boot, len(ids)))
        return self._idx[group]

    def resamples(self, group: tuple, ids: list, where: str = "") -> np.ndarray:
        """(n_boot, len(ids)) positions into ``ids``: each replicate's resample of ``group``'s items, for
        statistics other than a mean (a ratio of sums: the loss matrix's token-weighted Δ). Every call of a
        group must name the same ids in the same order."""
        idx = self._draw(group, ids)
        if list(ids) != self._ids[group]:
            raise MworkError(f"{where or group}: {len(ids)} items, but other evaluations of "
                             f"{'/'.join(map(str, group))} have {len(self._ids[group])} different ones; paired "
                             f"comparisons need the same items: rerun them")
        return idx

    def means(self, group: tuple, values: dict, where: str = "") -> np.ndarray:
        """Resampled means (n_boot,) of one evaluation's per-item ``values`` ({id: value}); ``group`` (e.g.
        (model, task, language)) names the items: every evaluation of a group must score the same items."""
        ids = self._ids.get(group) or sorted(values, key=str)
        idx = self._draw(group, ids)
        if set(values) != set(self._ids[group]):
            raise MworkError(f"{where or group}: scored {len(values)} items, but other evaluations of "
                             f"{'/'.join(map(str, group))} scored {len(self._ids[group])} different ones; paired "
                             f"comparisons need the same items (same eval.n_items and seed): rerun them")
        v = np.array([values[i] for i in self._ids[group]], dtype=float)
        return v[idx].mean(axis=1)


def ci(samples: np.ndarray, level: float = LEVEL) -> tuple[float, float]:
    """The percentile interval of bootstrap replicates."""
    a = (1 - level) / 2
    lo, hi = np.quantile(np.asarray(samples, dtype=float), [a, 1 - a])
    return float(lo), float(hi)


def pm(value: float, lo: float | None = None, hi: float | None = None, digits: int = 1, sign: bool = False) -> str:
    """'−23.8 ±4.1': a value and half the width of its 95% CI, as the Markdown tables print it (the CSVs keep
    both bounds); '—' for a missing value, the value alone without bounds. ``sign``: '+3.2 ±1.0'."""
    if value is None or value != value:
        return "—"
    text = f"{value:{'+' if sign else ''}.{digits}f}"
    if lo is None or hi is None or lo != lo or hi != hi:
        return text
    return f"{text} ±{(hi - lo) / 2:.{digits}f}"
