"""The candidate bank (YAML) with array-level PPA, and the network evaluator (cached accuracy)."""

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from axforge.errors import AxforgeError, bad_value
from axforge.models.quality import QUALITY
from axforge.paths import cache_dir, read_verified, write_verified

from .problem import Candidate

__all__ = ["BankSpec", "load_bank", "bank_candidates", "NetworkEvaluator", "DEMO_BANK"]

BANK_KEYS = {"rows", "cols", "multipliers", "include_exact", "a_width", "b_width", "signed", "freq_mhz"}

DEMO_BANK = {"rows": 4, "cols": 4, "include_exact": True,
             "multipliers": ["exact:8x8u:arch=dadda", "trunc:8x8u:k=6,comp=const", "bam:8x8u:h=2,v=7",
                             "drum:8x8u:k=4", "mitchell:8x8u:ec=1", "kulkarni:8x8u:t=4"]}


@dataclass(frozen=True)
class BankSpec:
    rows: int
    cols: int
    specs: tuple                # MultSpec
    given: tuple                # per spec: None, or {"energy_pj_per_mac", "area_um2"} given in the YAML
    include_exact: bool = True
    a_width: int = 8
    b_width: int = 8
    signed: bool = False

    @classmethod
    def from_dict(cls, d, where="bank"):
        from axforge.generators.chip import ChipSpec
        from axforge.hdl.arith import MultSpec
        if not isinstance(d, dict):
            raise AxforgeError(f"{where} must be a YAML mapping with keys {', '.join(sorted(BANK_KEYS))}")
        unknown = set(d) - BANK_KEYS
        if unknown:
            raise bad_value(f"{where}: key", sorted(unknown)[0], "one of " + ", ".join(sorted(BANK_KEYS)))
        for key in ("rows", "cols", "multipliers"):
            if key not in d:
                raise AxforgeError(f"{where}: key '{key}' is missing (required: rows, cols, multipliers)")
        mults = d["multipliers"]
        if not isinstance(mults, list) or not mults:
            raise bad_value(f"{where}: key 'multipliers'", mults, "a non-empty list of multiplier specs")
        specs, given = [], []
        for i, m in enumerate(mults):
            g = None
            if isinstance(m, dict):
                if "spec" not in m or set(m) - {"spec", "energy_pj_per_mac", "area_um2"}:
                    raise bad_value(f"{where}: multipliers[{i}]", m,
                                    "a spec string or {spec, energy_pj_per_mac, area_um2}")
                g = {k: float(m[k]) for k in ("energy_pj_per_mac", "area_um2") if k in m}
                if len(g) != 2:
                    raise bad_value(f"{where}: multipliers[{i}]", m, "both energy_pj_per_mac and area_um2, or neither")
                m = m["spec"]
            if not isinstance(m, str):
                raise bad_value(f"{where}: multipliers[{i}]", m, "a multiplier spec string")
            try:
                specs.append(MultSpec.parse(m))
            except AxforgeError as exc:
                raise AxforgeError(f"{where}: multipliers[{i}] {m!r} is not a known multiplier: {exc}") from None
            given.append(g)
        bank = cls(int(d["rows"]), int(d["cols"]), tuple(specs), tuple(given), bool(d.get("include_exact", True)),
                   int(d.get("a_width", specs[0].a_width)), int(d.get("b_width", specs[0].b_width)),
                   bool(d.get("signed", specs[0].signed)))
        # one chip with every array validates geometry and widths before any work
        ChipSpec(rows=bank.rows, cols=bank.cols, multipliers=tuple(str(s) for s in specs), a_width=bank.a_width,
                 b_width=bank.b_width, signed=bank.signed)
        return bank

    def chip_dict(self, specs, name="chip"):
        return {"name": name, "rows": self.rows, "cols": self.cols, "a_width": self.a_width,
                "b_width": self.b_width, "signed": self.signed, "multipliers": [str(s) for s in specs]}


def load_bank(path_or_none):
    from axforge.generators.spec import read_yaml
    if path_or_none is None:
        return BankSpec.from_dict(DEMO_BANK, "built-in bank")
    p = Path(path_or_none)
    if not p.is_file():
        raise AxforgeError(f"Bank file must exist, not {str(p)!r}")
    return BankSpec.from_dict(read_yaml(p, "Bank file"), f"bank {p}")


def _price(chip_dict):
    """One array's PPA in a worker process (its result lands in the cache the parent reads)."""
    from axforge import toolenv
    from axforge.generators.chip import ChipSpec
    from axforge.pdk_stub.chip_ppa import chip_ppa
    toolenv.setup()
    chip_ppa(ChipSpec.from_dict(chip_dict, "bank"))


def bank_candidates(bank, progress=True, jobs=None):
    """One :class:`Candidate` per multiplier: array-level energy/MAC and area from the PPA flow (cached).

    Arrays not in the cache are priced ``jobs`` at a time (default: one per core) in worker
    processes: Yosys and the gate-level simulation dominate, and each array is independent."""
    import os
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    from tqdm import tqdm

    from axforge.generators.chip import ChipSpec
    from axforge.pdk_stub.chip_ppa import chip_ppa, is_cached
    chips = [None if given else ChipSpec.from_dict(bank.chip_dict([spec], "cand"), "bank")
             for spec, given in zip(bank.specs, bank.given)]
    todo = [c for c in chips if c is not None and not is_cached(c)]
    jobs = min(jobs or os.cpu_count() or 1, len(todo))
    if jobs > 1:
        with ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn")) as pool:
            futures = [pool.submit(_price, c.to_dict()) for c in todo]
            for f in tqdm(futures, desc=f"array PPA ({jobs} processes)", disable=not progress):
                f.result()
    out = []
    for spec, given, chip in tqdm(list(zip(bank.specs, bank.given, chips)), desc="array PPA",
                                  disable=not progress or jobs > 1):
        if given:
            out.append(Candidate(spec, given["energy_pj_per_mac"], given["area_um2"]))
            continue
        r = chip_ppa(chip)
        out.append(Candidate(spec, float(r["energy_pj_per_mac"]), float(r["area_um2"]),
                             float(r.get("mult_energy_pj_per_op", float("nan")))))
    return out


class NetworkEvaluator:
    """The quality metric (default top-1 accuracy) of a trained network under a mapping; calibrated
    once, cached on disk by content hash.

    A search sees the **validation** split only (``limit``: its first N images); :meth:`held_out`
    measures a chosen mapping once on the test split, to report it.

    ``metric``: a name in :data:`axforge.models.quality.QUALITY`, applied to the network's outputs and
    the targets; ``metric_options`` go to it (e.g. ``{"bound": 0.1}``).
    """

    def __init__(self, trained, config, limit=None, calib_batches=4, metric="top1", metric_options=None):
        from axforge.models.layers import approximate
        self.trained, self.config = trained, config
        self.metric = QUALITY.lookup(metric, "Quality metric")
        self.metric_options = dict(metric_options or {})
        self.data = trained.data
        self.x, self.y = self.data.x_val[:limit], self.data.y_val[:limit]
        self.qmodel, self.report = approximate(trained.model, {}, trained.calib_batches(calib_batches), config)
        h = hashlib.sha256()
        h.update((trained.directory / "model.pt").read_bytes())
        key = {"meta": trained.meta, "config": repr(config), "limit": limit, "calib": calib_batches, "split": "val"}
        if metric != "top1" or self.metric_options:      # top-1 keeps the cache entries it always had
            key["metric"] = [metric, self.metric_options]
        h.update(json.dumps(key, sort_keys=True).encode())
        self.digest = h.hexdigest()
        self.calls = 0
        self.cache_hits = 0

    @property
    def layers(self):
        return [r.name for r in self.report]

    @property
    def macs(self):
        return [r.macs for r in self.report]

    def __call__(self, mapping):
        from axforge.models.layers import remap
        mstr = {k: (str(v) if v is not None else "exact") for k, v in mapping.items()}
        key = hashlib.sha256(json.dumps({"d": self.digest, "m": mstr}, sort_keys=True).encode()).hexdigest()
        entry = cache_dir() / "evals" / f"{key}.json"
        hit = read_verified(entry)
        if hit is not None:
            self.cache_hits += 1
            return hit["accuracy"]
        remap(self.qmodel, {k: v for k, v in mapping.items() if v is not None})
        acc = self.measure(self.qmodel)
        self.calls += 1
        write_verified(entry, {"accuracy": acc, "mapping": mstr})
        return acc

    def held_out(self, mapping):
        """The metric of the network under ``mapping`` on the whole test split (not cached: it is read
        once per reported mapping, after the search)."""
        from axforge.models.layers import remap
        remap(self.qmodel, {k: v for k, v in mapping.items() if v is not None})
        return self.measure(self.qmodel, x=self.data.x_test, y=self.data.y_test)

    def measure(self, model, batch_size=500, x=None, y=None):
        """The metric of ``model`` on the validation split, or on ``x``, ``y`` (outputs computed in
        batches, in eval mode)."""
        import torch

        from axforge.models.train import batches
        x, y = (self.x, self.y) if x is None else (x, y)
        model.eval()
        with torch.no_grad():
            outs = [model(xb) for (xb,) in batches(x, size=batch_size)]
        return self.metric(torch.cat(outs) if outs else torch.zeros(0), y, **self.metric_options)
