"""Linear probes: how much of an attribute a feature carries, read by the simplest classifier that can read it.

Why: a base can answer wrongly while its features still hold the answer (the LLM was never taught to carry
it to the answer), or answer rightly by a shortcut. A linear read-out of one feature site (a tower's tokens, an
LLM position) tells which: at the encoder, the tower perceives; at the last prompt position, the LLM carries
it to where the answer starts. Compared with the same features at random initialisation, it tells what
training added (random features already carry much, linearly).

The method: standardise (on the training part only), multinomial logistic regression with an L2 penalty whose
strength is chosen by stratified k-fold cross-validation on the training part, a stratified train/test split,
the mean test accuracy of several splits. ``c`` is the inverse penalty as scikit-learn states it (minimise
``0.5 |W|^2 + c * sum of the cross-entropies``); scikit-learn is not a dependency, so this is a few lines of
torch (full-batch L-BFGS, float64, deterministic).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

#: inverse L2 strengths tried by cross-validation
DEFAULT_CS = (0.001, 0.01, 0.1, 1.0)


def stratified_split(labels: np.ndarray, train_share: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(train indices, test indices): each class split ``train_share`` / rest (a class of one goes to train)."""
    train, test = [], []
    for cls in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == cls))
        k = len(idx) if len(idx) < 2 else min(len(idx) - 1, max(1, round(train_share * len(idx))))
        train.extend(idx[:k])
        test.extend(idx[k:])
    return np.sort(np.array(train, dtype=int)), np.sort(np.array(test, dtype=int))


def stratified_folds(labels: np.ndarray, folds: int, rng: np.random.Generator) -> np.ndarray:
    """The fold (0 .. folds-1) of every sample, each class dealt round the folds in a random order."""
    fold = np.zeros(len(labels), dtype=int)
    offset = 0
    for cls in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == cls))
        fold[idx] = (np.arange(len(idx)) + offset) % folds  # offset: small classes do not all start at fold 0
        offset += len(idx)
    return fold


def _standardise(train: torch.Tensor, *others: torch.Tensor) -> list[torch.Tensor]:
    mean = train.mean(0)
    std = train.std(0, unbiased=False)
    std = torch.where(std > 1e-12, std, torch.ones_like(std))  # a constant feature stays 0, not nan
    return [(t - mean) / std for t in (train, *others)]


def fit_logistic(
    x: torch.Tensor,
    y: torch.Tensor,
    n_classes: int,
    c: float,
    max_iter: int = 100,
    init: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(W [D, K], b [K]) minimising ``mean CE + |W|^2 / (2 c N)`` (scikit-learn's objective divided by c N),
    from zeros or from ``init`` (a warm start: the solution for a neighbouring ``c``).

    x: [N, D] float64 (standardised), y: [N] int64 in 0 .. n_classes-1. The gradient is written out (it is
    the whole cost of a fit this small, and autograd's bookkeeping would double it).
    """
    n, d = x.shape
    w = torch.zeros(d, n_classes, dtype=x.dtype) if init is None else init[0].clone()
    b = torch.zeros(n_classes, dtype=x.dtype) if init is None else init[1].clone()
    w.requires_grad_(True)
    b.requires_grad_(True)
    onehot = F.one_hot(y, n_classes).to(x.dtype)  # [N, K]
    lam = 1.0 / (c * n)
    opt = torch.optim.LBFGS(
        [w, b],
        lr=1.0,
        max_iter=max_iter,
        tolerance_grad=1e-5,
        tolerance_change=1e-8,
        history_size=20,
        line_search_fn="strong_wolfe",
    )

    @torch.no_grad()
    def closure() -> torch.Tensor:
        logits = x @ w + b  # [N, K]
        logp = logits.log_softmax(1)
        loss = -(onehot * logp).sum() / n + 0.5 * lam * (w * w).sum()
        delta = (logp.exp() - onehot) / n  # dloss/dlogits [N, K]
        w.grad = x.T @ delta + lam * w
        b.grad = delta.sum(0)
        return loss

    opt.step(closure)
    return w.detach(), b.detach()


def _accuracies(x_train, y_train, x_test, y_test, n_classes: int, cs: Sequence[float]) -> list[float]:
    """Test accuracy for each ``c`` (in the order given; each fit starts from the previous one's solution)."""
    x_train, x_test = _standardise(x_train, x_test)
    if x_train.shape[1] > x_train.shape[0]:
        # The L2-penalised optimum lies in the span of the training rows (representer theorem), so fitting on
        # their coordinates in that span is the same model with at most N instead of D weights per class.
        _, _, vh = torch.linalg.svd(x_train, full_matrices=False)  # vh: [N, D]
        x_train, x_test = x_train @ vh.T, x_test @ vh.T  # [N, N], [M, N]
    out, init = [], None
    for c in cs:
        init = fit_logistic(x_train, y_train, n_classes, c, init=init)
        w, b = init
        out.append(float(((x_test @ w + b).argmax(1) == y_test).double().mean()))
    return out


@dataclass
class ProbeResult:
    """Mean test accuracy over the splits, beside the majority baseline (the training part's most frequent
    class, scored on the test part) of the same splits."""

    n: int
    classes: int
    accuracy: float
    majority: float
    chosen_c: list[float] = field(default_factory=list)

    def to_json(self) -> dict:
        return {
            "n": self.n,
            "classes": self.classes,
            "accuracy": round(self.accuracy, 4),
            "majority": round(self.majority, 4),
            "chosen_c": self.chosen_c,
        }


def probe_accuracy(
    features: np.ndarray,
    labels: Sequence,
    *,
    splits: int = 3,
    train_share: float = 0.7,
    folds: int = 3,
    cs: Sequence[float] = DEFAULT_CS,
    seed: int = 0,
) -> ProbeResult:
    """Linear-probe accuracy of ``features`` [N, D] for ``labels`` (N values of any hashable kind): for each of
    ``splits`` stratified splits, ``c`` chosen by ``folds``-fold CV on the training part (best mean accuracy;
    ties go to the stronger penalty), refit on the whole training part, scored on the test part."""
    feats = np.asarray(features, dtype=np.float64)
    if feats.ndim != 2 or feats.shape[0] != len(labels):
        raise ValueError(f"features of shape {feats.shape} for {len(labels)} labels: need [N, D] with N = labels")
    values = sorted(set(labels), key=str)
    if len(values) < 2:
        raise ValueError(f"a probe needs at least 2 classes, got {values}")
    y_all = np.array([values.index(v) for v in labels])
    cs = sorted(cs)  # ascending: warm starts go from the strongest penalty to the weakest
    x = torch.from_numpy(feats)
    y = torch.from_numpy(y_all)
    rng = np.random.default_rng(seed)
    accs, majorities, chosen = [], [], []
    for _ in range(splits):
        tr, te = stratified_split(y_all, train_share, rng)
        if not len(te):
            raise ValueError(f"{len(labels)} samples leave no test part (every class needs at least 2)")
        fold = stratified_folds(y_all[tr], folds, rng)
        cv = [
            _accuracies(x[tr[fold != f]], y[tr[fold != f]], x[tr[fold == f]], y[tr[fold == f]], len(values), cs)
            for f in range(folds)
            if (fold == f).any() and (fold != f).any()
        ]
        mean_cv = np.mean(cv, axis=0) if cv else np.zeros(len(cs))
        best_c = cs[int(np.argmax(mean_cv))]  # the first best: ties go to the stronger penalty
        accs.append(_accuracies(x[tr], y[tr], x[te], y[te], len(values), [best_c])[0])
        majority = np.bincount(y_all[tr], minlength=len(values)).argmax()
        majorities.append(float((y_all[te] == majority).mean()))
        chosen.append(best_c)
    return ProbeResult(len(labels), len(values), float(np.mean(accs)), float(np.mean(majorities)), chosen)
