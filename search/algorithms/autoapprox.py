"""AutoApprox: calibration, ordered relaxation, constrained Gaussian-process Bayesian optimisation."""

import itertools
import math

import numpy as np

from .base import ALGORITHMS
from .layerwise import LayerwiseAlgorithm

__all__ = ["AutoApprox"]

_WORST = 1e300     # the score of a single-layer mapping not evaluated, for a minimised metric


@ALGORITHMS.register("autoapprox")
class AutoApprox(LayerwiseAlgorithm):
    """AutoApprox: calibration, ordered relaxation, constrained Gaussian-process Bayesian optimisation.

    1. Calibration: the all-exact mapping and every single-layer mapping (one
       layer on one approximate array, the rest exact); these count against
       the budget like every other evaluation.
    2. Per layer, candidates are ordered by calibrated accuracy (best first);
       ties within ``tie`` (accuracy buckets) are ordered by energy (highest
       first), so moving z_l from 0 to 1 walks from the safest to the most
       aggressive array. Nothing is dropped: single-layer accuracy is noisy.
    3. ``z`` in [0,1]^N maps to a mapping by ``order_l[floor(z_l * n_l)]``. The
       objective is ``f(z) = E(z)/E_exact + exp(gamma * accuracy shortfall) - 1
       + exp(gamma_a * area excess) - 1`` (exponential barriers). Energy and
       area are known in closed form; a Gaussian process (scikit-learn, Matern
       5/2 + noise) models accuracy over z, and the next point maximises the
       expected improvement of ``f`` under the GP (Monte Carlo over accuracy),
       among unevaluated mappings: all of them when the space is small, else
       random and local (one- and two-layer moves around the best) candidates.
       The first point after calibration is the composite of each layer's most
       aggressive candidate that kept the target alone. Every third step aims
       at a lower accuracy level (``levels`` below the target, cycling), so
       the returned set also covers the front below the target (hypervolume).

    Accuracy is the problem's quality metric; for a minimised metric (an
    error) "below the target" reads "above it". Energy, area and the target
    come from the mapping problem's methods (closed form).

    Example::

        r = run_search(problem, "autoapprox", budget=60, seed=0)
    """
    name = "autoapprox"

    def __init__(self, problem, seed=0, tie=0.005, gamma=400.0, calibrate=True, samples=96,
                 levels=(0.01, 0.02, 0.035, 0.05)):
        super().__init__(problem, seed)
        self.tie, self.gamma, self.samples, self.levels = tie, gamma, samples, levels
        p = problem
        base = p.all_exact()
        self._calib = []
        if calibrate and base is not None:
            self._calib.append(base)
            for l in range(p.n_layers):
                for c in range(p.n_choices):
                    if c != p.exact_index:
                        t = list(base)
                        t[l] = c
                        self._calib.append(tuple(t))
        self.orders = None
        self._composite_done = False
        self._all = None

    # -- the relaxation ---------------------------------------------------------

    def _single(self, l, c):
        base = self.problem.all_exact()
        t = list(base) if base is not None else [c] * self.problem.n_layers
        t[l] = c
        return tuple(t)

    def _build_orders(self):
        p = self.problem
        acc = {ev.choice: ev.accuracy for ev in self.history}
        energy = p.energy_per_mac()
        missing = 0.0 if p.quality.maximize else _WORST
        orders = []
        for l in range(p.n_layers):
            # best first: the quality as a quantity to minimise (-accuracy), ties by energy (highest first)
            scores = [p.quality.minimised(acc.get(self._single(l, c), missing)) for c in range(p.n_choices)]

            def key(c, scores=scores):
                return (round(scores[c] / self.tie) if self.tie else scores[c], -energy[c])
            orders.append(sorted(range(p.n_choices), key=key))
        self.orders = orders
        self._scores = acc

    def to_choice(self, z):
        return tuple(o[min(len(o) - 1, int(math.floor(zi * len(o))))] for o, zi in zip(self.orders, z))

    def to_z(self, choice):
        return np.array([((o.index(c) if c in o else len(o) - 1) + 0.5) / len(o) for o, c in zip(self.orders, choice)])

    def _z_many(self, choices):
        """z (bin centres) of many choices at once."""
        if not hasattr(self, "_pos"):
            p = self.problem
            self._pos = np.zeros((p.n_layers, p.n_choices))
            for l, o in enumerate(self.orders):
                for i, c in enumerate(o):
                    self._pos[l, c] = (i + 0.5) / len(o)
        C = np.asarray(choices)
        return self._pos[np.arange(C.shape[1])[None, :], C]

    def _f(self, energy, area_excess, acc, target=None):
        p = self.problem
        e0 = p.energy(p.all_exact()) if p.all_exact() is not None else 1.0
        short = np.maximum(0.0, p.shortfall(acc, target))
        return energy / e0 + np.expm1(np.minimum(50.0, self.gamma * short)) + math.expm1(min(50.0, 4 * area_excess))

    def objective(self, ev, target=None):
        return float(self._f(ev.energy_pj, ev.area_violation, ev.accuracy, target))

    def _level(self):
        """The accuracy level of this BO step: the target on two steps of three; on every third, a
        level below it (cycling down to ``spread``), so the front below the target fills in too."""
        p = self.problem
        self._steps = getattr(self, "_steps", 0) + 1
        if self._steps % 3:
            return p.target
        k = (self._steps // 3 - 1) % len(self.levels)
        return p.loosen(p.target, self.levels[k])

    # -- ask / tell -------------------------------------------------------------

    def propose(self):
        while self._calib:
            c = self._calib.pop(0)
            if c not in self.seen:
                return c
        if self.orders is None:
            self._build_orders()
        p = self.problem
        if not self._composite_done:
            self._composite_done = True
            comp = []
            energy = p.energy_per_mac()
            missing = 0.0 if p.quality.maximize else _WORST
            for l, o in enumerate(self.orders):
                ok = [c for c in o if p.shortfall(self._scores.get(self._single(l, c), missing)) <= 0]
                comp.append(min(ok or [o[0]], key=lambda c: energy[c]))
            if tuple(comp) not in self.seen:
                return tuple(comp)
        if len(self.history) < 3:
            return self._random()
        return self._bo_ask()

    def _random(self):
        for _ in range(500):
            c = self.to_choice(self.rng.random(self.problem.n_layers))
            if c not in self.seen:
                return c
        return None

    def _candidates(self):
        p = self.problem
        sizes = [len(o) for o in self.orders]
        if int(np.prod(sizes)) <= 50_000:
            if self._all is None:
                self._all = [tuple(o[i] for o, i in zip(self.orders, idx))
                             for idx in itertools.product(*[range(n) for n in sizes])]
            return [c for c in self._all if c not in self.seen]
        best = sorted(self.history, key=self.objective)[:5]
        out = set()
        for _ in range(2048):
            out.add(self.to_choice(self.rng.random(p.n_layers)))
        for ev in best:
            pos = [o.index(c) if c in o else len(o) - 1 for o, c in zip(self.orders, ev.choice)]
            for l in range(p.n_layers):
                for l2 in range(l, p.n_layers):
                    for d1 in (-1, 1):
                        for d2 in ((-1, 1) if l2 != l else (0,)):
                            q = list(pos)
                            q[l] = min(sizes[l] - 1, max(0, q[l] + d1))
                            q[l2] = min(sizes[l2] - 1, max(0, q[l2] + d2))
                            out.add(tuple(o[i] for o, i in zip(self.orders, q)))
        return [c for c in out if c not in self.seen]

    def _bo_ask(self):
        import warnings

        from sklearn.gaussian_process import GaussianProcessRegressor
        from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel
        p = self.problem
        cands = self._candidates()
        if not cands:
            return None
        Z = self._z_many([ev.choice for ev in self.history])
        acc = np.array([ev.accuracy for ev in self.history])
        kernel = ConstantKernel(1.0, (1e-3, 1e3)) * Matern(length_scale=np.full(p.n_layers, 0.5),
                                                           length_scale_bounds=(1e-2, 20.0), nu=2.5) \
            + WhiteKernel(1e-3, (1e-6, 1e-1))
        gp = GaussianProcessRegressor(kernel, normalize_y=True, random_state=int(self.rng.integers(1 << 31)))
        C = np.array(cands)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            gp.fit(Z, acc)
            mu, sd = gp.predict(self._z_many(C), return_std=True)
        known = p.closed_form_values(C)          # energy and area: closed form, no network run
        energy, excess = known["energy_pj"], known["area_violation"]
        level = self._level()
        f_best = min(self.objective(ev, level) for ev in self.history)
        draws = self.rng.standard_normal(self.samples)
        e0 = p.energy(p.all_exact()) if p.all_exact() is not None else 1.0
        base = energy / e0 + np.expm1(np.minimum(50.0, 4 * excess))
        samples = mu[:, None] + np.maximum(sd, 1e-9)[:, None] * draws[None, :]
        f = base[:, None] + np.expm1(np.minimum(50.0, self.gamma * np.maximum(0.0, p.shortfall(samples, level))))
        ei = np.maximum(0.0, f_best - f).mean(axis=1)
        if not ei.max() > 0:           # nothing expected to improve: the most likely feasible, cheapest
            ei = -(base + np.expm1(np.minimum(50.0, self.gamma * np.maximum(0.0, p.shortfall(mu, level)))))
        return cands[_argmax_stable(ei)]


def _argmax_stable(values, digits=9):
    """The index of the largest value after rounding to ``digits`` significant digits of the largest
    magnitude (the first on a tie): the GP's last bits differ between CPUs' BLAS kernels, and must
    not decide which mapping is evaluated next."""
    scale = float(np.max(np.abs(values))) or 1.0
    return int(np.argmax(np.round(np.asarray(values) / scale, digits)))
