"""Token sequences into left-padded batches (positions then come from the mask: ``Adapter.forward_kwargs``)."""

from __future__ import annotations

import torch


def pad_id(tokenizer) -> int:
    return tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0


def left_padded(seqs: list[list[int]], pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(input_ids, attention_mask), both (len(seqs), longest), each sequence right-aligned."""
    length = max(len(x) for x in seqs)
    ids = torch.full((len(seqs), length), pad, dtype=torch.long)
    mask = torch.zeros((len(seqs), length), dtype=torch.long)
    for j, x in enumerate(seqs):
        ids[j, length - len(x):] = torch.tensor(x, dtype=torch.long)
        mask[j, length - len(x):] = 1
    return ids, mask


def encode_prefixes(tokenizer, texts: list[str], max_length: int, chars_per_token: int = 8,
                    margin: int = 16) -> list[tuple[list[int], bool]]:
    """Each text's first ``max_length`` token ids (with the tokenizer's special tokens) and whether it has
    more, without tokenizing a long document whole (a 5 MB line costs seconds and a gigabyte): a text is
    cut to ``max_length * chars_per_token`` characters first, and the cut doubles until it yields
    ``max_length + margin`` tokens or the whole text. A cut changes only the tokens at its end, ``margin``
    tokens beyond the ones kept; a text shorter than the cut is tokenized whole, exactly as before."""
    out: list[tuple[list[int], bool] | None] = [None] * len(texts)
    todo = list(range(len(texts)))
    limit = max(1, max_length * chars_per_token)
    while todo:
        cut = [texts[i][:limit] for i in todo]
        encoded = tokenizer(cut, add_special_tokens=True)["input_ids"]
        again = []
        for i, piece, ids in zip(todo, cut, encoded):
            whole = len(piece) == len(texts[i])
            if whole or len(ids) >= max_length + margin:
                out[i] = (ids[:max_length], len(ids) > max_length)
            else:
                again.append(i)
        todo, limit = again, limit * 2
    return out


class Documents:
    """Texts as the forward passes over a corpus see them (PLND, set stability, Figure 3 alike): each text's
    first ``max_length`` tokens with the tokenizer's special tokens; blank texts and texts with no token are
    left out (counted in ``empty``), ``truncated`` counts the texts that had more tokens."""

    def __init__(self, tokenizer, texts: list[str], max_length: int):
        enc = encode_prefixes(tokenizer, texts, max_length)
        keep = [i for i, (t, (ids, _)) in enumerate(zip(texts, enc)) if t.strip() and ids]
        self.ids = [enc[i][0] for i in keep]
        self.index = keep  # position of each kept document in ``texts``
        self.truncated = sum(enc[i][1] for i in keep)
        self.empty = len(texts) - len(keep)
        self.pad = pad_id(tokenizer)

    def __len__(self) -> int:
        return len(self.ids)

    def batches(self, batch_size: int, device=None):
        """(positions in ``self.ids``, input_ids, attention_mask) per batch, shortest documents first, so
        padding is small; left-padded."""
        order = sorted(range(len(self.ids)), key=lambda i: len(self.ids[i]))
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            ids, mask = left_padded([self.ids[i] for i in idx], self.pad)
            yield idx, ids.to(device), mask.to(device)
