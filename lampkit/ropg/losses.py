"""ROPG's objectives over the policy pi(d|x) = softmax of the retriever's scores (paper section 4).

Every function takes ``scores`` [B, l] (the retriever's R(q, d) over the initial retriever's top
l items), a boolean ``mask`` [B, l] (False for the slots a short profile lacks) and, where the
objective needs it, ``eval`` [B, l]: EVAL of the LLM's output with each item alone.

- ROPG-RL (:func:`rl_loss`): sample d ~ pi (:func:`sample_items`), reward = EVAL(d) - EVAL(initial
  top-1) (:func:`rl_reward`), vanilla policy gradient (paper section 4.2);
- ROPG-KD (:func:`kd_loss`): KL(p_t || pi) with p_t the softmax of EVAL over the items
  (:func:`kd_target`, paper section 4.3).
"""

from __future__ import annotations

import torch

__all__ = ["log_policy", "sample_items", "rl_reward", "rl_loss", "kd_target", "kd_loss", "expected_reward"]

def _check_rows(mask: torch.Tensor) -> None:
    if not bool(mask.any(dim=-1).all()):
        raise ValueError("every row of the mask needs at least one unmasked item")


def log_policy(scores: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """log pi(d|x) [B, l]: log-softmax of ``scores`` over the unmasked slots; masked slots are -inf.

    The scores of masked slots are replaced by -inf before the softmax, so they get zero
    probability and no gradient, whatever value they held.
    """
    _check_rows(mask)
    return torch.log_softmax(scores.masked_fill(~mask, float("-inf")), dim=-1)


def sample_items(scores: torch.Tensor, mask: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """One slot per row drawn from pi (long [B], on the scores' device).

    The draw runs on the CPU with ``generator`` (a CPU ``torch.Generator``), so the same seed
    samples the same slots on any device.
    """
    probs = log_policy(scores.detach(), mask).exp().float().cpu()
    return torch.multinomial(probs, 1, generator=generator).squeeze(1).to(scores.device)


def rl_reward(eval: torch.Tensor, baseline_eval: torch.Tensor, sampled: torch.Tensor) -> torch.Tensor:
    """EVAL of the sampled item minus EVAL of the initial retriever's top-1, per row [B]."""
    return eval.gather(1, sampled[:, None]).squeeze(1) - baseline_eval


def rl_loss(scores: torch.Tensor, mask: torch.Tensor, eval: torch.Tensor, baseline_eval: torch.Tensor,
            sampled: torch.Tensor) -> torch.Tensor:
    """ROPG-RL: ``-mean(reward * log pi(sampled))`` with the baseline-subtracted reward of :func:`rl_reward`.

    Minimising it maximises E[reward * log pi(d|x)] (vanilla policy gradient); the reward is a
    constant (no gradient flows through EVAL).
    """
    if not bool(mask.gather(1, sampled[:, None]).all()):
        raise ValueError("a sampled slot is masked")
    reward = rl_reward(eval, baseline_eval, sampled).detach().to(scores.dtype)
    log_pi = log_policy(scores, mask).gather(1, sampled[:, None]).squeeze(1)
    return -(reward * log_pi).mean()


def kd_target(eval: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """p_t(d|x) [B, l]: softmax of EVAL over the unmasked slots (masked slots 0): ROPG-KD's target."""
    return log_policy(eval, mask).exp().masked_fill(~mask, 0.0)


def kd_loss(scores: torch.Tensor, mask: torch.Tensor, eval: torch.Tensor) -> torch.Tensor:
    """ROPG-KD: KL(p_t || pi) = sum_d p_t (log p_t - log pi), summed over the unmasked slots, mean over rows.

    The direction is the paper's (target first). Unlike the official code, EVAL goes through
    one softmax only (the official code applies a second one to the target) and padded slots of
    short profiles are masked out of both distributions (the official code keeps them).
    """
    target_eval = eval.detach().to(scores.dtype)
    log_target = log_policy(target_eval, mask).masked_fill(~mask, 0.0)
    log_pi = log_policy(scores, mask).masked_fill(~mask, 0.0)
    return (kd_target(target_eval, mask) * (log_target - log_pi)).sum(dim=-1).mean()


def expected_reward(scores: torch.Tensor, mask: torch.Tensor, eval: torch.Tensor,
                    baseline_eval: torch.Tensor) -> torch.Tensor:
    """E_pi[EVAL(d)] - EVAL(initial top-1) per row [B] (a training diagnostic, no gradient)."""
    probs = log_policy(scores.detach(), mask).exp()
    return (probs * eval.masked_fill(~mask, 0.0)).sum(dim=-1) - baseline_eval
