"""The one hook context manager: every hook removed on exit, also when the block fails."""
import pytest
import torch

from mwork.hooks import Hooks


def test_hooks_run_inside_and_are_gone_after_normal_exit_and_errors():
    lin = torch.nn.Linear(3, 3)
    x = torch.ones(1, 3)
    plain = lin(x)
    seen = []
    with Hooks() as hooks:
        hooks.before(lin, lambda mod, args: seen.append("pre"))
        hooks.after(lin, lambda mod, args, out: out * 0)
        assert torch.equal(lin(x), torch.zeros_like(plain)) and seen == ["pre"]
    assert torch.equal(lin(x), plain) and not lin._forward_hooks and not lin._forward_pre_hooks
    with pytest.raises(RuntimeError, match="boom"):
        with Hooks() as hooks:
            hooks.before(lin, lambda mod, args, kwargs: None, with_kwargs=True)
            raise RuntimeError("boom")
    assert not lin._forward_pre_hooks and torch.equal(lin(x), plain)
