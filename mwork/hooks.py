"""Forward hooks on an unmodified model, removed on exit: the one way PLND, masking, the logit lens, the
loss matrix and Figure 3 attach to a model (never a patched or copied modeling file)."""

from __future__ import annotations

from collections.abc import Callable

import torch


class Hooks:
    """``with Hooks() as hooks:`` then ``hooks.after(module, fn)`` (a forward hook) or
    ``hooks.before(module, fn)`` (a forward pre-hook), keyword arguments passed on to PyTorch; every hook
    is removed when the block ends, by an exception too, so the model is left exactly as it was."""

    def __init__(self) -> None:
        self._handles: list = []

    def after(self, module: torch.nn.Module, fn: Callable, **kwargs) -> Callable:
        self._handles.append(module.register_forward_hook(fn, **kwargs))
        return fn

    def before(self, module: torch.nn.Module, fn: Callable, **kwargs) -> Callable:
        self._handles.append(module.register_forward_pre_hook(fn, **kwargs))
        return fn

    def remove(self) -> None:
        while self._handles:
            self._handles.pop().remove()

    def __enter__(self) -> Hooks:
        return self

    def __exit__(self, *exc) -> bool:
        self.remove()
        return False
