"""Driving a search: the budget, the study journal (Optuna storage), resuming, several workers.

Every evaluation is journaled as one complete Optuna trial, added atomically
after the evaluation finished (an interrupted evaluation leaves nothing
behind, so a study is never corrupted). The default storage is SQLite in the
output folder; any SQLAlchemy URL works (e.g. ``postgresql://user@host/db``),
which is how several workers on several machines share one study: before
each ask, a worker tells its algorithm every trial the others finished.
"""

from dataclasses import dataclass, field

import numpy as np

from axforge.errors import AxforgeError, bad_value

from .algorithms import make_algorithm
from .pareto import hypervolume_2d

__all__ = ["run_search", "SearchResult", "open_study"]


@dataclass
class SearchResult:
    algo: str
    seed: int
    evaluations: list                      # Evaluation, in order
    trace: list = field(default_factory=list)   # per evaluation: {n, hv, best_feasible_energy_pj}
    resumed: int = 0

    def to_dict(self):
        return {"algo": self.algo, "seed": self.seed, "resumed": self.resumed,
                "evaluations": [e.to_dict() for e in self.evaluations], "trace": self.trace}


def hv_reference(problem):
    """Objectives (energy / all-exact energy, 1 - accuracy); reference point (1.05, 1 - (target - 0.05))."""
    return (1.05, 1.0 - (problem.target - 0.05))


def hv_points(problem, evals):
    e0 = problem.energy(problem.all_exact()) if problem.all_exact() else max(e.energy_pj for e in evals)
    return np.array([[e.energy_pj / e0, 1.0 - e.accuracy] for e in evals if e.area_violation <= 0]).reshape(-1, 2)


def open_study(storage, name, directions=("minimize", "maximize")):
    import optuna
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        if isinstance(storage, str) and storage.startswith("sqlite"):
            # several local workers write to one SQLite file: wait for its lock instead of failing
            storage = optuna.storages.RDBStorage(storage, engine_kwargs={"connect_args": {"timeout": 120}})
        return optuna.create_study(study_name=name, storage=storage, directions=list(directions),
                                   load_if_exists=True)
    except Exception as exc:   # noqa: BLE001 - any storage failure is the user's URL or file
        raise AxforgeError(f"Study storage must be a reachable SQLAlchemy URL, not {storage!r} ({exc})") from None


def _journal(study, problem, ev, algo, worker):
    import optuna
    dist = {f"l{i}": optuna.distributions.CategoricalDistribution(list(range(problem.n_choices)))
            for i in range(problem.n_layers)}
    study.add_trial(optuna.trial.create_trial(
        params={f"l{i}": c for i, c in enumerate(ev.choice)}, distributions=dist,
        values=[ev.energy_pj, ev.accuracy],
        user_attrs={"accuracy": ev.accuracy, "area_um2": ev.area_um2, "algo": algo, "worker": worker,
                    "constraints": [ev.acc_violation, ev.area_violation]}))


def _stored(study, problem):
    """(trial number, choice, accuracy) of every complete trial, in order."""
    import optuna
    out = []
    for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)):
        try:
            choice = tuple(int(t.params[f"l{i}"]) for i in range(problem.n_layers))
        except KeyError:
            continue
        out.append((t.number, choice, float(t.user_attrs["accuracy"])))
    return out


def run_search(problem, algo="autoapprox", budget=200, seed=0, storage=None, study_name=None, resume=False,
               progress=True, worker=0, shared=False, max_duplicates=50):
    """Run ``algo`` for ``budget`` distinct evaluations; returns a :class:`SearchResult`.

    ``storage`` (SQLAlchemy URL) journals every evaluation under ``study_name``;
    with ``resume`` an existing study continues (its evaluations are replayed
    into the algorithm, not repeated), without it an existing non-empty study
    is an error. ``shared``: other workers write to the same study (each
    worker uses seed + 1000 * ``worker`` and reads their results before asking).
    """
    from tqdm import tqdm
    if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1:
        raise bad_value("Budget", budget, "an integer >= 1")
    problem.prepare()
    algorithm = make_algorithm(algo, problem, seed + 1000 * worker)
    study = open_study(storage, study_name or f"{algo}-s{seed}-{problem.key()[:12]}") if storage else None
    evals, trace, seen_numbers = [], [], set()
    ref = hv_reference(problem)
    best = [float("inf")]

    def record(ev):
        evals.append(ev)
        algorithm.tell(ev)
        if ev.feasible:
            best[0] = min(best[0], ev.energy_pj)
        trace.append({"n": len(evals), "hv": hypervolume_2d(hv_points(problem, evals), ref),
                      "best_feasible_energy_pj": best[0] if np.isfinite(best[0]) else None})

    def sync(replay):
        """Tell the algorithm what the store holds that it has not seen: its own earlier run when
        resuming (``replay``: asks are re-issued so its sequence stays in step), other workers' results."""
        added = 0
        for number, choice, acc in _stored(study, problem):
            if number in seen_numbers:
                continue
            seen_numbers.add(number)
            if choice in algorithm.seen:
                continue
            if replay:
                algorithm.ask()
            record(problem.evaluate(choice, accuracy=acc))
            added += 1
        return added

    resumed = 0
    if study is not None:
        existing = _stored(study, problem)
        if existing and not (resume or shared):
            raise AxforgeError(f"Study {study.study_name!r} already holds {len(existing)} evaluations: "
                               "pass --resume to continue it, or use another output folder")
        resumed = sync(replay=True)
    bar = tqdm(total=budget, initial=min(budget, len(evals)), desc=f"search {algo}", disable=not progress)
    dup = 0
    while len(evals) < budget:
        if study is not None and shared:
            sync(replay=False)
        choice = algorithm.ask()
        if choice is None:
            break
        choice = tuple(int(c) for c in choice)
        ev = problem.evaluate(choice)
        if choice in algorithm.seen:        # a repeat: tell it again, it costs no budget
            algorithm.tell(ev)
            dup += 1
            if dup > max_duplicates:
                break
            continue
        dup = 0
        if study is not None:
            _journal(study, problem, ev, algo, worker)
        record(ev)
        bar.update(1)
        bar.set_postfix(best_energy=f"{best[0]:.4g}" if np.isfinite(best[0]) else "-",
                        hv=f"{trace[-1]['hv']:.4f}")
    bar.close()
    return SearchResult(algo, seed, evals, trace, resumed)
