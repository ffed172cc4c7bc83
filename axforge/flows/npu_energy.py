"""A per-phase energy model of the NPU, calibrated on gate-level runs, for searches that price
hundreds of networks (a gate-level run takes about 20 s; the model answers in microseconds).

The dynamic energy of one sample's phase is modelled as a linear function of what the phase does
(:func:`phase_features`): a constant, its cycles (the cycle model), its multiply-accumulates and
its writebacks::

    E_phase = c_0 + c_cycle * cycles + c_mac * MACs + c_write * writebacks      (pJ per sample)

The prediction phase is the NPU's forced-unsafe run (fetch, prediction layers, decide, the
fallback beat); the approximation phase is what a safe sample adds (approximation layers and
emission, less the fallback beat): the split :func:`axforge.pdk_stub.npu_ppa.npu_ppa` measures.
:func:`calibrate` runs the gate-level flow on a handful of compiled programs (their results are
cached by the flow), takes both phases of each as points, and fits the coefficients by
non-negative least squares on the relative error (``scipy.optimize.nnls``). Its accuracy is stated, never assumed: the
leave-one-program-out mean and largest relative error of the phase energies are part of the model.
Leakage is not modelled: it is the design's leakage power (from the same runs) times the time.
"""

from dataclasses import asdict, dataclass

import numpy as np

from axforge.errors import AxforgeError

__all__ = ["FEATURES", "EnergyModel", "calibrate", "phase_features"]

FEATURES = ("const", "cycles", "macs", "writes")


def phase_features(program, config):
    """``{"pred": [...], "approx": [...]}``: the :data:`FEATURES` of both phases of one sample."""
    from axforge.hdl.npu.cycles import layer_cycles, sample_cycles
    cyc = sample_cycles(program, config)

    def feats(layers, extra):
        return [1.0, float(sum(layer_cycles(layer, config) for layer in layers) + extra),
                float(sum(layer.n_in * layer.n_out for layer in layers)), float(sum(layer.n_out for layer in layers))]
    return {"pred": feats(program.pred, cyc["fetch"] + cyc["decide"] + cyc["fallback"]),
            "approx": feats(program.approx, cyc["emit"] - cyc["fallback"])}


@dataclass(frozen=True)
class EnergyModel:
    """Fitted coefficients (pJ per unit of each of :data:`FEATURES`), the design's leakage and clock,
    and the calibration's own error (leave-one-program-out, relative, over both phases)."""
    npu: str
    multiplier: str
    coef: tuple
    leakage_uw: float
    freq_mhz: float
    loo_mean_error: float
    loo_max_error: float
    points: int
    programs: int

    def phase_pj(self, features):
        return float(np.dot(self.coef, features))

    def program_pj(self, program, config):
        """``{"pred", "approx"}``: dynamic pJ per sample of each phase of ``program``."""
        f = phase_features(program, config)
        return {k: self.phase_pj(v) for k, v in f.items()}

    def to_dict(self):
        return {**asdict(self), "coef": dict(zip(FEATURES, self.coef))}


def _fit(a, b):
    """Non-negative coefficients minimising the *relative* squared error (each point's row and
    target divided by its target), so the small prediction phase weighs as much as a large
    approximation phase."""
    from scipy.optimize import nnls
    a, b = np.asarray(a, float), np.asarray(b, float)
    w = 1.0 / np.maximum(b, 1e-9)
    coef, _ = nnls(a * w[:, None], b * w)
    return coef


def calibrate(spec, programs, inputs, progress=True):
    """An :class:`EnergyModel` of NPU ``spec`` from gate-level runs of ``programs``.

    ``inputs``: one array of input codes per program (the samples priced; each program's own
    quantisation). A program whose samples are all unsafe gives only its prediction-phase point.
    Needs at least three programs (the leave-one-out error needs a fit without each)."""
    from tqdm import tqdm

    from axforge.pdk_stub.npu_ppa import npu_ppa
    if len(programs) < 3 or len(programs) != len(inputs):
        raise AxforgeError(f"NPU energy calibration needs at least 3 programs with their inputs, not {len(programs)}")
    rows, target, owner, leak, freq = [], [], [], set(), set()
    for i, (prog, x) in enumerate(tqdm(list(zip(programs, inputs)), desc="energy calibration", unit="net",
                                       disable=not progress, leave=False)):
        p = npu_ppa(spec, prog, x)
        f = phase_features(prog, spec.config)
        rows.append(f["pred"])
        target.append(p["pred_dynamic_pj"])
        owner.append(i)
        if p["approx_dynamic_pj"] is not None:
            rows.append(f["approx"])
            target.append(p["approx_dynamic_pj"])
            owner.append(i)
        leak.add(p["leakage_uw"])
        freq.add(p["freq_mhz"])
    if len(leak) != 1 or len(freq) != 1:
        raise AxforgeError(f"NPU energy calibration: the runs disagree on leakage {sorted(leak)} or clock "
                           f"{sorted(freq)}")
    a, b, owner = np.array(rows), np.array(target), np.array(owner)
    coef = _fit(a, b)
    errs = []
    for i in range(len(programs)):
        keep = owner != i
        c = _fit(a[keep], b[keep])
        errs.extend(np.abs(a[~keep] @ c - b[~keep]) / np.maximum(b[~keep], 1e-9))
    return EnergyModel(spec.name, spec.multiplier, tuple(float(v) for v in coef), leak.pop(), freq.pop(),
                       float(np.mean(errs)), float(np.max(errs)), len(b), len(programs))
