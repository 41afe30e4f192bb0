"""BG/NBD-family models of visit histories ("buy till you die"), in NumPy/SciPy.

Each customer (here: each vehicle) is summarised as ``x`` repeat visits, ``t_x`` the time of
the last visit and ``T`` the time observed, both measured from the first visit.

* ``BG/NBD`` (Fader, Hardie & Lee 2005, "Counting your customers the easy way"): a customer
  can only drop out right after a repeat visit, so a customer seen once (x = 0) is *certainly
  alive*: P(alive) = 1 however long ago that visit was. That is exactly the one-visit lapsed
  customer a dealer wants to find, so we do not use it to score customers.
* ``MBG/NBD`` (Batislam, Denizel & Filiztekin 2007): the customer may also drop out at time
  zero, right after the first visit, so a single visit long ago gives a low P(alive). This is
  the model the store scoring uses. Its likelihood differs from BG/NBD by one term, so both
  share this code; BG/NBD is kept because its published CDNOW estimates let a test check the
  likelihood and the optimiser (tests/test_analytics.py).

No maintained library fitted: ``lifetimes`` is unmaintained, ``btyd`` is a beta abandoned in
2022, PyMC-Marketing pulls in PyMC and a compiler toolchain for four numbers.

Parameters: visits follow a Poisson process with rate λ ~ Gamma(r, α); after each visit (and,
for MBG, at time zero) the customer drops out with probability p ~ Beta(a, b).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np
from scipy.optimize import minimize
from scipy.special import betaln, digamma, gammaln, hyp2f1

Variant = Literal["bg", "mbg"]

# The optimiser works on log-parameters bounded to +-LOG_BOUND (e^-9..e^9).
LOG_BOUND = 9.0


@dataclass(frozen=True)
class Params:
    r: float
    alpha: float
    a: float
    b: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


@dataclass(frozen=True)
class Fit:
    variant: Variant
    params: Params
    log_likelihood: float
    n: int
    converged: bool
    # A parameter ended on the optimiser's bound (e^-9 or e^9 in the fitting units): the
    # likelihood kept improving towards a degenerate model (e.g. r -> infinity: every vehicle
    # visits at the same rate, which is what regular maintenance looks like, not a fit).
    at_bounds: bool = False


# Magnitudes no visit history supports: r (shape of the visit rates) and a, b (of the dropout
# chance) beyond these mean the data pinned nothing down (CDNOW: r 0.24, a 0.79, b 2.4).
IMPLAUSIBLE_ABOVE = {"r": 1000.0, "a": 1000.0, "b": 1000.0}

# Why a fit is not used, as codes (the page words them): in this order of precedence.
PROBLEMS = ("too_few", "few_repeaters", "not_converged", "at_bounds", "implausible")


def diagnose(fit: Fit | None, x, *, min_repeaters: int) -> list[str]:
    """Why ``fit`` should not score anyone (empty: the fit is usable).

    ``too_few``: no fit (too few histories); ``few_repeaters``: fewer than ``min_repeaters``
    histories with a repeat visit (the dropout process is then unidentified); ``not_converged``:
    the optimiser stopped without converging; ``at_bounds``: a parameter sits on the bound;
    ``implausible``: an absurd magnitude (see ``IMPLAUSIBLE_ABOVE``).
    """
    if fit is None:
        return ["too_few"]
    x = np.asarray(x, dtype=float)
    found = []
    if int(np.sum(x > 0)) < min_repeaters:
        found.append("few_repeaters")
    if not fit.converged:
        found.append("not_converged")
    if fit.at_bounds:
        found.append("at_bounds")
    p = fit.params.as_dict()
    if any(p[k] > limit for k, limit in IMPLAUSIBLE_ABOVE.items()):
        found.append("implausible")
    return found


def _arrays(x, t_x, T) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x = np.asarray(x, dtype=float)
    t_x = np.asarray(t_x, dtype=float)
    T = np.asarray(T, dtype=float)
    if not (x.shape == t_x.shape == T.shape):
        raise ValueError("x, t_x and T must have the same length")
    if np.any(x < 0) or np.any(t_x < 0) or np.any(t_x > T + 1e-9):
        raise ValueError("need x >= 0 and 0 <= t_x <= T")
    return x, t_x, T


def log_likelihood(params: Params, x, t_x, T, variant: Variant = "mbg", weights=None) -> np.ndarray:
    """Per-customer log-likelihood (vector)."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    x, t_x, T = _arrays(x, t_x, T)
    common = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    if variant == "bg":
        # FHL 2005 eq. (6), in logs: A1 alive through T; A2 dropped out after the x-th visit.
        a1 = betaln(a, b + x) - betaln(a, b) - (r + x) * np.log(alpha + T)
        with np.errstate(divide="ignore", invalid="ignore"):
            a2 = betaln(a + 1, b + x - 1) - betaln(a, b) - (r + x) * np.log(alpha + t_x)
        a2 = np.where(x > 0, a2, -np.inf)
    else:
        # Batislam et al. 2007: the dropout chance also applies at time zero.
        a1 = betaln(a, b + x + 1) - betaln(a, b) - (r + x) * np.log(alpha + T)
        a2 = betaln(a + 1, b + x) - betaln(a, b) - (r + x) * np.log(alpha + t_x)
    with np.errstate(invalid="ignore"):
        ll = common + np.logaddexp(a1, a2)
    return ll if weights is None else ll * np.asarray(weights, dtype=float)


def _gradient(params: Params, x, t_x, T, variant: Variant, weights) -> np.ndarray:
    """d(sum of weighted log-likelihoods)/d(log r, log alpha, log a, log b), in closed form.

    The likelihood is a log-sum of two terms (A1 alive through T, A2 gone after the last visit):
    each term's derivative weighted by its share of the sum. d betaln(p, q)/dp = psi(p) - psi(p+q).
    Given to the optimiser, it replaces the four extra likelihoods per step that a numerical
    gradient costs (a store's fit: 355 likelihoods and 0.15-0.18 s before, 53 and 0.06 s)."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    log_T, log_t = np.log(alpha + T), np.log(alpha + t_x)
    shift = 1.0 if variant == "mbg" else 0.0  # MBG's extra dropout chance at time zero
    # The two terms of the log-sum, without the parts they share (those cancel in the shares).
    a1 = betaln(a, b + x + shift) - (r + x) * log_T
    with np.errstate(divide="ignore", invalid="ignore"):
        a2 = betaln(a + 1, b + x - 1 + shift) - (r + x) * log_t
    if variant == "bg":
        a2 = np.where(x > 0, a2, -np.inf)  # BG: no dropout before the first repeat visit
    w2 = np.exp(a2 - np.logaddexp(a1, a2))
    w1 = 1.0 - w2
    psi_sum = digamma(a + b + x + shift)
    with np.errstate(invalid="ignore"):
        db2 = np.where(w2 > 0, digamma(np.maximum(b + x - 1 + shift, 1e-300)), 0.0)
    d_r = digamma(r + x) - digamma(r) + np.log(alpha) - w1 * log_T - w2 * log_t
    d_alpha = r / alpha - (r + x) * (w1 / (alpha + T) + w2 / (alpha + t_x))
    d_a = w1 * digamma(a) + w2 * digamma(a + 1) - psi_sum - (digamma(a) - digamma(a + b))
    d_b = w1 * digamma(b + x + shift) + w2 * db2 - psi_sum - (digamma(b) - digamma(a + b))
    per_param = np.array([np.dot(weights, d) for d in (d_r, d_alpha, d_a, d_b)])
    return per_param * np.array([r, alpha, a, b])


def fit(x, t_x, T, variant: Variant = "mbg", start: Params | None = None) -> Fit:
    """Maximum-likelihood estimates (optimised on the log scale, so all four stay positive).

    Identical (x, t_x, T) rows are collapsed with weights first: a dealer's visit dates are
    days, so a store of 30,000 vehicles has far fewer distinct histories.
    """
    x, t_x, T = _arrays(x, t_x, T)
    if len(x) < 10:
        raise ValueError(f"too few histories to fit ({len(x)}); need at least 10")
    rows = np.stack([x, t_x, T], axis=1)
    uniq, counts = np.unique(rows, axis=0, return_counts=True)
    ux, ut, uT = uniq[:, 0], uniq[:, 1], uniq[:, 2]
    scale = float(np.max(uT)) or 1.0  # work in units of the longest history: better conditioned

    ut, uT = ut / scale, uT / scale

    def nll(theta: np.ndarray) -> float:
        r, alpha, a, b = np.exp(theta)
        value = -np.sum(log_likelihood(Params(r, alpha, a, b), ux, ut, uT, variant, counts))
        return float(value) if np.isfinite(value) else 1e300

    def nll_and_gradient(theta: np.ndarray) -> tuple[float, np.ndarray]:
        value = nll(theta)
        if value >= 1e300:
            return value, np.zeros(4)
        grad = -_gradient(Params(*np.exp(theta)), ux, ut, uT, variant, counts)
        return value, grad if np.all(np.isfinite(grad)) else np.zeros(4)

    s = start or Params(1.0, 1.0, 1.0, 1.0)
    theta0 = np.log([s.r, s.alpha / scale, s.a, s.b])
    # Bounded (e^-9..e^9): a store where nobody ever dropped out drives a to 0 and b to
    # infinity; the bounds keep the scores finite (P(alive) ~ 1, as the data say).
    best = minimize(
        nll_and_gradient,
        theta0,
        jac=True,
        method="L-BFGS-B",
        bounds=[(-LOG_BOUND, LOG_BOUND)] * 4,
        options={"ftol": 1e-13, "gtol": 1e-8, "maxiter": 2000},
    )
    if not _at_optimum(best):  # a rough surface: the simplex does not need gradients
        simplex = minimize(
            nll,
            best.x,
            method="Nelder-Mead",
            bounds=[(-LOG_BOUND, LOG_BOUND)] * 4,
            options={"xatol": 1e-6, "fatol": 1e-8, "maxiter": 2000},
        )
        best = simplex if simplex.fun <= best.fun else best
    r, alpha, a, b = np.exp(best.x)
    # alpha is a time scale: back to the caller's units. The likelihood changes by r*log(scale)
    # per customer when time is rescaled; report it in the caller's units.
    params = Params(float(r), float(alpha * scale), float(a), float(b))
    ll = float(np.sum(log_likelihood(params, x, t_x, T, variant)))
    at_bounds = bool(np.any(np.abs(best.x) > LOG_BOUND - 0.05))
    return Fit(
        variant=variant,
        params=params,
        log_likelihood=ll,
        n=int(len(x)),
        converged=_at_optimum(best),
        at_bounds=at_bounds,
    )


def _at_optimum(best) -> bool:
    """L-BFGS-B's own verdict, or: it stopped in a line search (the likelihood of thousands of
    histories cannot be summed to 1e-13, its ftol) where the gradient, bounds allowing, is flat
    to a ten-millionth of the likelihood: the optimum, to more digits than the data hold."""
    if best.success:
        return True
    if getattr(best, "jac", None) is None or not np.isfinite(best.fun):
        return False
    g = np.array(best.jac, dtype=float)
    g[(best.x >= LOG_BOUND - 1e-9) & (g < 0)] = 0.0  # pressing on the upper bound
    g[(best.x <= -LOG_BOUND + 1e-9) & (g > 0)] = 0.0  # pressing on the lower bound
    return bool(np.max(np.abs(g)) <= 1e-7 * max(1.0, abs(best.fun)))


def p_alive(params: Params, x, t_x, T, variant: Variant = "mbg") -> np.ndarray:
    """Probability that the customer is still active at T, given the history."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    x, t_x, T = _arrays(x, t_x, T)
    ratio = (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
    if variant == "bg":
        with np.errstate(divide="ignore", invalid="ignore"):
            odds = np.where(x > 0, a / np.maximum(b + x - 1, 1e-300) * np.exp(ratio), 0.0)
    else:
        odds = a / (b + x) * np.exp(ratio)
    return 1.0 / (1.0 + odds)


def expected_visits(params: Params, t: float, x, t_x, T, variant: Variant = "mbg") -> np.ndarray:
    """Expected number of visits in the next ``t`` time units, given the history."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    x, t_x, T = _arrays(x, t_x, T)
    z = t / (alpha + T + t)
    decay = np.exp((r + x) * (np.log(alpha + T) - np.log(alpha + T + t)))
    if variant == "bg":
        # FHL 2005 eq. (10).
        num = (a + b + x - 1) / (a - 1) * (1 - decay * hyp2f1(r + x, b + x, a + b + x - 1, z))
    else:
        num = (a + b + x) / (a - 1) * (1 - decay * hyp2f1(r + x, b + x + 1, a + b + x, z))
    return num * p_alive(params, x, t_x, T, variant)


def simulate(
    params: Params, n: int, T: float, variant: Variant = "mbg", seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw ``n`` histories of length ``T`` from the model (for tests and benchmarks)."""
    rng = np.random.default_rng(seed)
    lam = rng.gamma(params.r, 1.0 / params.alpha, size=n)
    p = rng.beta(params.a, params.b, size=n)
    xs = np.zeros(n)
    txs = np.zeros(n)
    for i in range(n):
        alive = not (variant == "mbg" and rng.random() < p[i])
        t = 0.0
        count = 0
        last = 0.0
        while alive:
            t += rng.exponential(1.0 / lam[i])
            if t > T:
                break
            count += 1
            last = t
            if rng.random() < p[i]:
                alive = False
        xs[i], txs[i] = count, last
    return xs, txs, np.full(n, float(T))
