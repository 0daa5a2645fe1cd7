"""The output head applied a slice of the vocabulary at a time (the logit lens's top-1, the loss
matrix's logsumexp): no (positions x vocabulary) tensor beyond ``chunk_elems`` entries exists, and each
output-embedding row is read once per call — a product of a few positions with a 262,144-row matrix at a
time is bound by reading the matrix, not by the arithmetic."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch

from .arch import get_adapter
from .hooks import Hooks

# entries of a (positions x vocabulary slice) block: the lens, the known-token lens and the loss matrix
VOCAB_CHUNK = 1 << 22


def vocab_slices(head: torch.nn.Module, x: torch.Tensor, chunk_elems: int) -> Iterator[tuple[int, torch.Tensor]]:
    """(first vocabulary index j, logits of ``x`` (n, d) for rows j, j+1, ... of ``head``), slice by slice."""
    weight, bias = head.weight, head.bias
    step = max(1, chunk_elems // max(1, len(x)))
    for j in range(0, weight.shape[0], step):
        yield j, torch.nn.functional.linear(x, weight[j:j + step], None if bias is None else bias[j:j + step])


@torch.no_grad()
def decode_layers(model, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                  decode: Callable[[torch.Tensor, torch.nn.Module, torch.nn.Module], torch.Tensor]) -> torch.Tensor:
    """``decode(h, final_norm, output_embedding)`` of every decoder layer's output h (batch, positions,
    d) in one forward, stacked over layers: forward hooks on the unmodified model (removed on exit). The
    model's own output head runs for one position only (the hooks decode every layer; the last layer's
    output through the final norm and the output embedding is the model's own prediction)."""
    adapter = get_adapter(model)
    norm, head = adapter.final_norm(), model.get_output_embeddings()
    layers = adapter.decoder_layers()
    out: list[torch.Tensor | None] = [None] * len(layers)

    def hook(i):
        def fn(module, args, output):
            out[i] = decode(output[0] if isinstance(output, tuple) else output, norm, head)
        return fn

    with Hooks() as hooks:
        for i, layer in enumerate(layers):
            hooks.after(layer, hook(i))
        model(**adapter.forward_kwargs(input_ids, attention_mask), logits_to_keep=1)
    return torch.stack(out)
