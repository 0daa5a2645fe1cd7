"""PLND: parallel language-specific neuron detection (Zhao et al., 2024, Eq. 1-10), made exact.

For one document and one neuron, importance is the Frobenius norm, over the document's tokens, of the
change that deactivating (zeroing) the neuron causes:

* ``ffn`` (intermediate unit k; ``ffn``): the change of the MLP block's output (Eq. 4-5, exact).
* ``attn.v`` (``value``): the change of the attention block's output after the output projection, through
  every query head the kv head serves (grouped-query attention).
* ``attn.q`` / ``attn.k`` (``qk``): the change of the attention probabilities of every head that uses the
  feature, with the rotary embedding, q/k norms, scaling, soft-capping, ALiBi and every mask in the
  model's own terms (Eq. 7-10 without the paper's approximation). Two backends with the same numbers:
  ``qk_torch`` (PyTorch) and ``qk_fused`` (the fused CPU kernel, ``kernel`` and ``qk_kernel.c``).
* ``geometry``: masks, rotary supports, the q/k norm's rescaling, document blocks.

``neuron_importance`` (``wiring``) computes all of it in one forward pass with hooks; the Q/K part runs in
blocks of heads and features, the V and FFN parts in blocks of documents, so that no block larger than
``chunk_elems`` entries is ever built. The definition taken literally -- one neuron at a time, rerunning
the block -- is the tests' reference (``tests/plnd_reference.py``).
"""

from .wiring import CHUNK_ELEMS, neuron_importance, qk_path

__all__ = ["CHUNK_ELEMS", "neuron_importance", "qk_path"]
