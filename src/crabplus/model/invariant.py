"""Batch-invariant decoding on the CPU: a float32 row is answered with the same bits at any batch size.

Why: ``crabplus predict --batch-size B`` must write the rows of batch 1 (tests/test_predict_scale.py). A
row's numbers change with its batch wherever a kernel is chosen, or a sum is grouped, by the batch's shape;
each of those was found by comparing a batched row with the same record alone, module by module:

- **Convolution.** PyTorch picks oneDNN (mkldnn) or NNPACK by batch size, and each rounds otherwise than its
  own im2col + GEMM kernel. oneDNN took the audio tower's strided conv1d at batch 2 (7e-7 after the conv, 2e-5
  in the router weights); with oneDNN off, PyTorch 2.13 hands a float32 2-D convolution (a conv1d is one) of
  16 or more items to NNPACK, and the audio tower convolves each clip's windows as items: 4 AVE clips make 12
  (PyTorch's kernel), 8 make 24 (NNPACK, 2e-6 apart), which flipped 2 answers of 32 at batch 8. Both are off
  while a batch decodes.
- **Attention over a left-padded row.** The LLM's attention sums over key positions, and a row left-padded to
  its batch's longest prompt sits at other offsets of those sums (SIMD lanes, kernel blocks), which round
  otherwise: a 141-token prompt beside 232-token ones moved by 9e-5 after one layer (its answer held, its
  routing did not). :func:`row_attention` attends each row over its own tokens only, one row per call, so
  neither the padding nor the other rows reach a row's sums: true by construction, not by measurement.
- **Matrix products.** MKL's float32 GEMM picks its kernel by the number of rows M, and the kernels sum a row's
  products in other orders. Measured with one thread on every product shape of the tiny thinker: on an AMD
  EPYC (MKL's AUTO branch) M = 1, 2-3 and 4 or more are three classes whose last bits differ; on an Intel Xeon
  (AVX-512) M = 1, 2-5 (2-15 for 384 inputs), 6-10 and 16 or more. A decoding step has one row per sample, so
  the class of a row's products followed its batch: on the Intel machine 8 rows are not 4 rows, and every
  row's logits moved by 1e-6 to 2e-4 from the first decoding step on. MKL's strict reproducibility mode
  (``MKL_CBWR=AVX2,STRICT``, :func:`request_strict_gemm`) is documented to give the same bits whatever the
  number of threads, i.e. whatever the split of the rows, and measured to put every M from 1 to 3712 in one
  class on the Intel machine (about 8 % slower). It exists on Intel processors only (elsewhere MKL ignores it),
  and it must be set before MKL's first product; :func:`gemm_row_floor` checks at run time whether the products
  are row-invariant, and if not, how many rows a product needs to be in the class of all larger ones (the
  batch is then decoded beside copies of its last sample up to that many rows:
  :func:`crabplus.infer.batching.cpu_min_rows`).
- **Threads.** MKL splits a product's rows among its threads, so the classes above hold for one thread only:
  with two threads on an AMD EPYC (Zen 4, AVX-512) a row decoded among 16 was 7e-7 from the same row among 4
  at the second decoding step, where with one thread they were bit-equal. A batch decodes on one thread
  (more cores: more processes, under torchrun).

On a GPU none of this applies (bf16 is not bit-equal across batch sizes anyway: docs/evaluation.md), and
nothing changes there.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator

import torch
from torch import nn

from crabplus.utils.gemm import STRICT_GEMM, request_strict_gemm

__all__ = ["STRICT_GEMM", "request_strict_gemm", "gemm_row_floor", "row_attention", "batch_invariant"]

#: The name :func:`row_attention` is registered under (transformers' attention and mask interfaces).
ROW_ATTENTION = "crabplus_row_sdpa"


#: The products :func:`gemm_row_floor` tries, (inputs, outputs): the tiny thinker's and wider ones.
PROBE_SHAPES = ((24, 128), (48, 128), (128, 3), (128, 11), (128, 128), (128, 384), (384, 11), (384, 128), (1024, 384))
PROBE_ROWS = (*range(1, 65), 128, 512, 2048)


@functools.cache
def gemm_row_floor() -> int:
    """The fewest rows R such that a float32 CPU product gives a row the same bits at every row count from R on
    (probed once per process on :data:`PROBE_SHAPES` for :data:`PROBE_ROWS`, one thread): 1 where the products
    are row-invariant (MKL's strict mode on an Intel CPU), else the start of the last class (4 on the AMD
    machine measured, 16 on the Intel one without the strict mode); 64 if even that is not found."""
    gen = torch.Generator().manual_seed(0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # what prediction on the CPU runs with (one thread per process)
    try:
        floor = 1
        for k, n in PROBE_SHAPES:
            x = torch.randn(max(PROBE_ROWS), k, generator=gen)  # [M, k]
            w = torch.randn(n, k, generator=gen)  # [n, k]
            row = [torch.nn.functional.linear(x[:m], w)[0] for m in PROBE_ROWS]  # row 0 at each M: [n] each
            differ = [i for i, r in enumerate(row) if not torch.equal(r, row[-1])]  # unlike the largest M
            if differ:
                start = differ[-1] + 1  # the class of the largest M starts after its last stranger
                floor = max(floor, PROBE_ROWS[start] if PROBE_ROWS[start] <= 64 else 64)
        return floor
    finally:
        torch.set_num_threads(threads)


def row_attention(
    module: nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    dropout: float = 0.0,
    scaling: float | None = None,
    **kwargs,
) -> tuple[torch.Tensor, None]:
    """Scaled dot-product attention one row at a time, over the row's own (unpadded) keys.

    query [B, H, Tq, D], key/value [B, Hkv, Tk, D] (the cache included), attention_mask [B, 1, Tq, Tk] bool
    (True: attend) or None (no padding anywhere). A row's keys are the run its last query attends (left
    padding: the last ``L`` positions); its last ``min(Tq, L)`` queries are its real ones and attend causally
    inside that run. Each row's call depends on (its queries, its L) alone: one query (a decoding step) attends
    every key, as many queries as keys (the prompt) is SDPA's own causal mask, anything else an explicit
    one. Padded query positions get zeros (no real token attends them). Returns ([B, Tq, H, D], None), as
    transformers' sdpa does.
    """
    batch, heads, q_len, head_dim = query.shape
    starts, ends = _key_runs(attention_mask, batch, key.shape[2])
    out = query.new_zeros(batch, q_len, heads, head_dim)  # [B, Tq, H, D]
    gqa = heads != key.shape[1]
    for row, (s, e) in enumerate(zip(starts, ends)):
        length = e - s
        real = min(q_len, length)
        q = query[row : row + 1, :, q_len - real :].contiguous()  # [1, H, real, D]
        k = key[row : row + 1, :, s:e].contiguous()  # [1, Hkv, L, D]
        v = value[row : row + 1, :, s:e].contiguous()
        mask = None
        if 1 < real < length:  # queries that see more keys than queries: not SDPA's (upper-left) causal mask
            mask = torch.ones(real, length, dtype=torch.bool, device=query.device).tril_(length - real)
        o = torch.nn.functional.scaled_dot_product_attention(
            q,
            k,
            v,
            attn_mask=mask,
            dropout_p=dropout,
            is_causal=real > 1 and mask is None,
            scale=scaling,
            enable_gqa=gqa,
        )  # [1, H, real, D]
        out[row, q_len - real :] = o[0].transpose(0, 1)
    return out, None


#: The last mask :func:`_key_runs` read and its runs: every layer of a forward gets the same mask tensor.
_RUNS: list = [None, None]


def _key_runs(attention_mask: torch.Tensor | None, batch: int, k_len: int) -> tuple[list[int], list[int]]:
    """Each row's run of attended keys (start, end), from its last query's mask row; all keys without a mask."""
    if attention_mask is None:
        return [0] * batch, [k_len] * batch
    if _RUNS[0] is attention_mask:
        return _RUNS[1]
    if attention_mask.dtype != torch.bool:
        raise ValueError(f"row_attention: a boolean mask is expected, got {attention_mask.dtype}")
    last = attention_mask[:, 0, -1, :]  # [B, Tk]: the keys each row's last query attends
    count = last.sum(dim=1)  # [B]
    first = last.int().argmax(dim=1)  # [B]: the first attended key
    final = k_len - 1 - last.flip(1).int().argmax(dim=1)  # [B]: the last attended key
    if bool(((final - first + 1 != count) | (count == 0)).any()):
        raise ValueError("row_attention: a row does not attend one run of keys (generation needs left padding)")
    runs = (first.tolist(), (final + 1).tolist())
    _RUNS[:] = [attention_mask, runs]
    return runs


def _register() -> None:
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

    AttentionInterface.register(ROW_ATTENTION, row_attention)
    AttentionMaskInterface.register(ROW_ATTENTION, sdpa_mask)  # the boolean masks sdpa gets


def language_configs(model: nn.Module) -> list:
    """The configs of the model's text decoders (a module with ``embed_tokens`` and ``layers``): the LLM, whose
    prompts are padded; the encoders attend within each clip or image and are left as they are."""
    found = {}
    for module in model.modules():
        if hasattr(module, "embed_tokens") and hasattr(module, "layers") and hasattr(module, "config"):
            found[id(module.config)] = module.config
    return list(found.values())


@contextlib.contextmanager
def batch_invariant(model: nn.Module, device: torch.device) -> Iterator[None]:
    """On the CPU, while the block runs: one thread, oneDNN and NNPACK off and the LLM's attention one row at a
    time (see the module notes); everything is restored after. Elsewhere nothing."""
    if device.type != "cpu":
        yield
        return
    _register()
    configs = language_configs(model)
    before = [config._attn_implementation for config in configs]
    mkldnn = torch.backends.mkldnn.enabled
    threads = torch.get_num_threads()
    torch.backends.mkldnn.enabled = False  # the attribute alone (mkldnn.flags would also reset its TF32 settings)
    torch.set_num_threads(1)  # the row classes gemm_row_floor probed (threads split a product's rows: notes)
    try:
        for config in configs:
            config._attn_implementation = ROW_ATTENTION
        with torch.backends.nnpack.flags(enabled=False):
            yield
    finally:
        torch.backends.mkldnn.enabled = mkldnn
        torch.set_num_threads(threads)
        for config, name in zip(configs, before):
            config._attn_implementation = name
