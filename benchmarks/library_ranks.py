"""Low-rank factorisations of the 8-bit multiplier library: the figures the README quotes.

Run from the repository root (one process, single-threaded BLAS, a few minutes to
half an hour depending on the machine's load; a progress bar goes to stderr)::

    .venv/bin/python benchmarks/library_ranks.py

For every built-in design of ``library_specs(8, 8)`` (both signs) it builds
``ProductTable(None, lut=spec.model(a, b), a_width=8, b_width=8, signed=spec.signed)``
from the bit-accurate model in :func:`axforge.sim.lut.extract_lut`'s layout (index
``a_raw << 8 | b_raw``; the test suite establishes model == RTL LUT for every family,
so no Verilator run is needed). Imported ``verilog`` designs, whose model *is* the
Verilator LUT, are skipped and counted. Designs with the same LUT and sign share one
table, so every count is given twice: over designs and over distinct tables.

It prints, as plain ``key: value`` lines:

* the library size, distinct tables, and how many have exact rank of E = LUT - a*b
  equal to 0, in (0, 8], in (0, 16] and above 16, in total and per family;
* over 0 < rank <= 16, the int8 terms (:func:`axforge.models.intfactor.term_count`) of
  the lattice factors against the skeleton factors -- fewer / as many / more -- as
  :func:`~axforge.models.intfactor.best_factors` computes them inside
  ``ProductTable.skeleton()``, the method kept, and the term counts of the designs the
  README names (BAM h=2,v=7; trunc k=10 signed; perf start=1,count=4);
* how many of those tables have all their int8 terms at scale 1 (shift 0): for E's
  kept factors, for the centred int8 layout (E's factors plus the exact-product
  column pair), and for the layout ``_i8_terms()`` keeps;
* over 0 < rank <= 8 (the ranks ``auto`` sends to ``lowrank``), and over 0 < rank <= 16,
  on how many the direct (whole-LUT) layout is the cheaper one (``i8_direct()``), in
  total and per family;
* the time of ``lut_factors()`` on first use per table (mean and max).

The term counts are recorded by wrapping ``intfactor.lattice_factors`` and
``intfactor.skeleton`` with pass-through recorders while ``ProductTable.skeleton()``
runs, so each factorisation is computed once, by the code the product paths use.
"""

import os

# One process on a shared machine: threaded BLAS under load made scipy's pivoted QR and
# numpy's SVD several times slower here, and the timings below would measure the contention.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import inspect  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402
from contextlib import contextmanager  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from tqdm import tqdm  # noqa: E402

from axforge.models import factor, i8layout, int8gemm, intfactor  # noqa: E402
from axforge.models.lutmm import ProductTable  # noqa: E402
from axforge.flows.char import library_specs  # noqa: E402

torch.set_num_threads(1)

# the designs the README names, as (family, params it fixes, signed or None for both)
EXAMPLES = (("bam", {"h": 2, "v": 7}, None),
            ("trunc", {"k": 10}, True),
            ("perf", {"start": 1, "count": 4}, None))


@contextmanager
def recording(store):
    """Record ``(name, factors)`` of every lattice/skeleton factorisation computed meanwhile."""
    saved = intfactor.lattice_factors, intfactor.skeleton

    def wrap(fn, name):
        def recorder(e, r):
            got = fn(e, r)
            store.append((name, got))
            return got
        return recorder

    intfactor.lattice_factors = wrap(saved[0], "lattice")
    intfactor.skeleton = wrap(saved[1], "skeleton")
    try:
        yield store
    finally:
        intfactor.lattice_factors, intfactor.skeleton = saved


def all_scale1(cols):
    """Whether every term of these :func:`intfactor.column_terms` results is at shift 0."""
    return all(shift == 0 for _, terms in cols for shift, _, _ in terms)


def int8_flag_note():
    """Whether the int8 plan functions read ``int8gemm.INT8_GEMM`` (directly or via ``int8_ok``)."""
    fns = (ProductTable.skeleton, ProductTable.factor_method, ProductTable.lut_factors,
           ProductTable._i8_terms, ProductTable.i8_direct, factor.integer_factors, factor.lut_integer_factors,
           i8layout.layout, i8layout._build, i8layout._I8Plan.build, i8layout._I8Plan.cost,
           intfactor.best_factors, intfactor.column_terms)
    readers = [f.__qualname__ for f in fns
               if "INT8_GEMM" in inspect.getsource(f) or "int8_ok" in inspect.getsource(f)]
    if readers:
        int8gemm.INT8_GEMM = True
        return f"forced True (read by {', '.join(readers)})"
    return f"{int8gemm.INT8_GEMM} on this machine, left as is: skeleton/lut_factors/_i8_terms/i8_direct do not read it"


def analyse(pt):
    """Everything printed about one table."""
    row = {"rank": pt.exact_rank()}
    r = row["rank"]
    if not 0 < r <= factor.SKELETON_MAX_RANK:
        return row
    calls = []
    with recording(calls):
        pt.skeleton()
    got = dict(calls)   # best_factors runs each factorisation once, on E
    row["terms"] = {m: (intfactor.term_count(f) if f is not None else None) for m, f in got.items()}
    row["method"] = pt.factor_method()
    t0 = time.perf_counter()
    pt.lut_factors()
    row["lut_factors_s"] = time.perf_counter() - t0
    skel = pt.skeleton()
    row["scale1_E"] = row["scale1_centred"] = row["scale1_kept"] = None
    if skel is not None:
        fa, fb, d, _ = skel
        e_cols = [intfactor.column_terms(fa[:, j], fb[:, j]) for j in range(fa.shape[1])]
        a = np.arange(pt.a_min, pt.a_max + 1) - pt.a_mid
        b = np.arange(pt.b_min, pt.b_max + 1) - pt.b_mid
        row["scale1_E"] = all_scale1(e_cols)
        row["scale1_centred"] = all_scale1([intfactor.column_terms(a, d * b, offset=False)] + e_cols)
    plan = pt._i8_terms()
    if plan is not None:
        row["scale1_kept"] = all(sh == 0 for _, levels in plan.groups for sh, _ in levels)
        row["slots"] = sum(int(ta.shape[1]) for ta, _ in plan.groups)
        row["cost"] = plan.cost()
    row["direct"] = pt.i8_direct()
    return row


def matches(spec, family, params, signed):
    p = spec.param_dict
    return spec.family == family and (signed is None or spec.signed == signed) and \
        all(p.get(k) == v for k, v in params.items())


def count(items, pred):
    return sum(1 for x in items if pred(x))


def main():
    t_start = time.perf_counter()
    every = library_specs(8, 8)
    specs = [s for s in every if s.family != "verilog"]
    print(f"int8gemm.INT8_GEMM: {int8_flag_note()}")
    print(f"threads: BLAS {os.environ['OPENBLAS_NUM_THREADS']}, torch {torch.get_num_threads()}")

    tables, key_of = {}, []
    for spec in tqdm(specs, desc="LUTs and ranks", file=sys.stderr):
        a, b = spec.operands()
        lut = spec.model(a, b)
        key = (spec.signed, lut.tobytes())
        if key not in tables:
            pt = ProductTable(None, lut=lut, a_width=8, b_width=8, signed=spec.signed)
            pt.exact_rank()
            tables[key] = pt
        key_of.append(key)
    print(f"library: {len(specs)} designs, {len(tables)} distinct tables "
          f"(a table = one LUT and sign; {len(every) - len(specs)} imported designs skipped)")
    signs = Counter(s.signed for s in specs)
    print(f"library: {signs[False]} unsigned designs, {signs[True]} signed; "
          f"{count(tables, lambda k: not k[0])} unsigned distinct tables, {count(tables, lambda k: k[0])} signed")

    rows = {}
    order = sorted(tables, key=lambda k: tables[k].exact_rank())
    for key in tqdm(order, desc="factorisations", file=sys.stderr):
        rows[key] = analyse(tables[key])
    design_rows = [(s, rows[k], k) for s, k in zip(specs, key_of)]
    distinct_rows = list(rows.values())

    # -- ranks ----------------------------------------------------------------------------
    bands = (("rank 0", lambda r: r == 0), ("0<rank<=8", lambda r: 0 < r <= 8),
             ("0<rank<=16", lambda r: 0 < r <= 16), ("rank>16", lambda r: r > 16))
    for label, items in (("designs", [r for _, r, _ in design_rows]), ("distinct tables", distinct_rows)):
        print(f"ranks over {label}: " + ", ".join(f"{name} {count(items, lambda x: f(x['rank']))}"
                                                 for name, f in bands))
    fams = sorted({s.family for s in specs})
    for fam in fams:
        ds = [(r, k) for s, r, k in design_rows if s.family == fam]
        keys = {k for _, k in ds}
        parts = []
        for name, f in bands:
            nd = count(ds, lambda x: f(x[0]["rank"]))
            nt = count(keys, lambda k: f(rows[k]["rank"]))
            parts.append(f"{name} {nd}/{nt}")
        print(f"ranks {fam}: {len(ds)} designs/{len(keys)} distinct tables; "
              + ", ".join(parts) + " (designs/distinct tables)")

    # -- lattice against skeleton, 0 < rank <= 16 -----------------------------------------
    def versus(items):
        c = Counter()
        for x in items:
            lt, sk = x["terms"].get("lattice"), x["terms"].get("skeleton")
            if lt is None and sk is None:
                c["neither"] += 1
            elif lt is None:
                c["skeleton only"] += 1
            elif sk is None:
                c["lattice only"] += 1
            else:
                c["fewer" if lt < sk else "as many" if lt == sk else "more"] += 1
        return c

    for label, items in (("designs", [r for _, r, _ in design_rows]), ("distinct tables", distinct_rows)):
        band = [x for x in items if 0 < x["rank"] <= 16]
        c = versus(band)
        kept = Counter(x["method"] for x in band)
        print(f"lattice vs skeleton terms over {len(band)} {label} with 0<rank<=16: lattice fewer on "
              f"{c['fewer']}, as many on {c['as many']}, more on {c['more']}; lattice only {c['lattice only']}, "
              f"skeleton only {c['skeleton only']}, neither {c['neither']}; kept: "
              + ", ".join(f"{m} {n}" for m, n in sorted(kept.items(), key=lambda kv: str(kv[0]))))
        both = [x for x in band if None not in (x["terms"].get("lattice"), x["terms"].get("skeleton"))]
        if both:
            print(f"lattice vs skeleton over the {len(both)} {label} where both exist: total terms "
                  f"{sum(x['terms']['lattice'] for x in both)} against {sum(x['terms']['skeleton'] for x in both)}")
    for fam in fams:
        band = [r for s, r, _ in design_rows if s.family == fam and 0 < r["rank"] <= 16]
        if band:
            c = versus(band)
            print(f"lattice vs skeleton {fam} ({len(band)} designs, 0<rank<=16): fewer {c['fewer']}, "
                  f"as many {c['as many']}, more {c['more']}, one or none {len(band) - c['fewer'] - c['as many'] - c['more']}")
    for fam, params, signed in EXAMPLES:
        for s, r, _ in design_rows:
            if matches(s, fam, params, signed):
                t = r.get("terms", {})
                print(f"example {s}: rank {r['rank']}, lattice {t.get('lattice')} terms against skeleton "
                      f"{t.get('skeleton')}, kept {r.get('method')}")

    # -- scale 1 ----------------------------------------------------------------------------
    for label, items in (("designs", [(s, r) for s, r, _ in design_rows]),
                         ("distinct tables", [(None, r) for r in distinct_rows])):
        band = [(s, x) for s, x in items if 0 < x["rank"] <= 16]
        print(f"all terms at scale 1 over {len(band)} {label} with 0<rank<=16: E's kept factors "
              f"{count(band, lambda y: y[1]['scale1_E'])}, centred layout (with the exact pair) "
              f"{count(band, lambda y: y[1]['scale1_centred'])}, layout kept by _i8_terms "
              f"{count(band, lambda y: y[1]['scale1_kept'])}")
    for fam in fams:
        band = [r for s, r, _ in design_rows if s.family == fam and 0 < r["rank"] <= 16]
        if band:
            print(f"all terms at scale 1 {fam} ({len(band)} designs): E {count(band, lambda x: x['scale1_E'])}, "
                  f"centred {count(band, lambda x: x['scale1_centred'])}, kept {count(band, lambda x: x['scale1_kept'])}")

    # -- direct layout ----------------------------------------------------------------------
    for hi in (8, 16):
        inband = lambda r: 0 < r["rank"] <= hi  # noqa: E731
        ds = [(s, r) for s, r, _ in design_rows if inband(r)]
        ts = [r for r in distinct_rows if inband(r)]
        per = []
        for fam in fams:
            fd = [r for s, r in ds if s.family == fam]
            ft = {k for s, r, k in design_rows if s.family == fam and inband(r)}
            if fd:
                per.append(f"{fam} {count(fd, lambda x: x['direct'])} of {len(fd)} designs "
                           f"({count(ft, lambda k: rows[k]['direct'])} of {len(ft)} tables)")
        print(f"direct layout cheaper, 0<rank<={hi}: on {count(ds, lambda x: x[1]['direct'])} of {len(ds)} designs, "
              f"{count(ts, lambda x: x['direct'])} of {len(ts)} distinct tables")
        print(f"direct layout cheaper per family, 0<rank<={hi}: " + "; ".join(per))

    # -- timing -----------------------------------------------------------------------------
    for hi in (8, 16):
        ts = [r["lut_factors_s"] for r in distinct_rows if 0 < r["rank"] <= hi]
        if ts:
            print(f"lut_factors on first use, {len(ts)} distinct tables with 0<rank<={hi}: "
                  f"mean {np.mean(ts):.3f} s, max {np.max(ts):.3f} s")
    print(f"run time: {time.perf_counter() - t_start:.0f} s")


if __name__ == "__main__":
    main()
