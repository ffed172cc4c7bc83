"""The study store (Optuna storage) and the ask/tell loop: budget, journal, resume, several workers.

A :class:`Study` owns its storage and journals each evaluation as one
complete, immutable Optuna trial: the params with their distributions (from
the problem's search space), the objective values in the problem's order,
the constraint values (``user_attrs["constraints"]``, in the problem's
order) and the result's attributes. A trial is added atomically after its
evaluation finished (an interrupted evaluation leaves nothing behind, so a
study is never corrupted). The default storage is SQLite; any SQLAlchemy URL
works (e.g. ``postgresql://user@host/db``), which is how several workers on
several machines share one study.

:func:`run_search` drives an ask/tell :class:`~axforge.search.algorithms.Algorithm`:
resuming replays the stored trials into it (nothing is evaluated twice), and
shared workers tell it each other's trials before every ask. A method that is
not ask/tell (a gradient-based one such as DARTS) writes its evaluations with
:meth:`Study.record` directly::

    study = Study(problem, "sqlite:///out/study.db", "darts-s0")
    study.record(problem.result(params, values, constraints), algo="darts")
"""

from dataclasses import dataclass, field

from axforge.errors import AxforgeError, bad_value

from .algorithms import make_algorithm
from .pareto import hypervolume

__all__ = ["run_search", "SearchResult", "Study", "open_study"]


@dataclass
class SearchResult:
    algo: str
    seed: int
    evaluations: list                      # Result records, in order
    trace: list = field(default_factory=list)   # per evaluation: {n, hv, best_feasible_<first objective>}
    resumed: int = 0

    def to_dict(self):
        return {"algo": self.algo, "seed": self.seed, "resumed": self.resumed,
                "evaluations": [e.to_dict() for e in self.evaluations], "trace": self.trace}


def open_study(storage, name, directions=("minimize", "maximize")):
    """The Optuna study ``name`` on ``storage`` (a SQLAlchemy URL), created when missing."""
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


class Study:
    """One problem's journal on Optuna storage: complete, immutable trials, in order.

    Parameters
    ----------
    problem : Problem -- fixes the space (distributions), the objectives (directions, value order)
        and the constraints (their order).
    storage : str -- a SQLAlchemy URL (``sqlite:///path/study.db``, ``postgresql://...``).
    name : str -- the study name (created when missing, loaded otherwise).
    """

    def __init__(self, problem, storage, name):
        self.problem = problem
        self.name = name
        self.optuna = open_study(storage, name, [o.direction for o in problem.objectives])

    def record(self, result, **attrs):
        """Journal ``result`` (a Result of this problem) as one complete trial, atomically; ``attrs``
        (e.g. ``algo``, ``worker``) go with it."""
        import optuna
        p = self.problem
        try:
            values = [float(result.values[o.name]) for o in p.objectives]
            cons = [float(result.constraints[c]) for c in p.constraints]
        except KeyError as exc:
            raise bad_value("Result to record", result, f"values for every objective and constraint "
                                                        f"(missing {exc.args[0]!r})") from None
        params = p.space.validate(result.params)
        trial = optuna.trial.create_trial(params=params, distributions=p.space.distributions(params), values=values,
                                          user_attrs={**result.attrs, **attrs, "constraints": cons})
        self.optuna.add_trial(trial)

    def trials(self, exclude=()):
        """``(trial number, Result)`` of every complete trial of this problem (its space, objectives and
        constraints), in order, except the numbers in ``exclude``; rebuilt by ``problem.restore``
        (nothing is evaluated)."""
        import optuna
        p = self.problem
        out = []
        for t in self.optuna.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)):
            if t.number in exclude:
                continue
            try:
                params = p.space.validate(t.params)
                values = {o.name: float(v) for o, v in zip(p.objectives, t.values, strict=True)}
                cons = t.user_attrs.get("constraints", [])
                constraints = dict(zip(p.constraints, (float(c) for c in cons), strict=True))
            except (AxforgeError, ValueError, TypeError):
                continue        # not a trial of this problem
            attrs = {k: v for k, v in t.user_attrs.items() if k != "constraints"}
            out.append((t.number, p.restore(params, values, constraints, attrs)))
        return out

    def __len__(self):
        import optuna
        return len(self.optuna.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)))


class _Trace:
    """The indicator trace of a search: hypervolume and best feasible first objective after each result."""

    def __init__(self, problem):
        self.problem = problem
        self.ref = problem.hv_reference()
        self.first = problem.objectives[0]
        self.key = f"best_feasible_{self.first.name}"
        self.best = None

    def __call__(self, results):
        last = results[-1]
        if last.feasible:
            v = last.values[self.first.name]
            if self.best is None or self.first.better(v, self.best):
                self.best = v
        hv = hypervolume(self.problem.hv_points(results), self.ref) if self.ref is not None else None
        return {"n": len(results), "hv": hv, self.key: self.best}


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
    space = problem.space
    algorithm = make_algorithm(algo, problem, seed + 1000 * worker)
    study = Study(problem, storage, study_name or f"{algo}-s{seed}-{problem.key()[:12]}") if storage else None
    evals, trace, seen_numbers, known = [], [], set(), {}
    indicators = _Trace(problem)

    def record(result):
        evals.append(result)
        known[space.key(result.params)] = result
        algorithm.tell(result)
        trace.append(indicators(evals))

    def sync(replay):
        """Tell the algorithm what the store holds that it has not seen: its own earlier run when
        resuming (``replay``: asks are re-issued so its sequence stays in step), other workers' results."""
        added = 0
        for number, result in study.trials(exclude=seen_numbers):
            seen_numbers.add(number)
            if space.key(result.params) in algorithm.seen:
                continue
            if replay:
                algorithm.ask()
            record(result)
            added += 1
        return added

    resumed = 0
    if study is not None:
        existing = len(study.trials())
        if existing and not (resume or shared):
            raise AxforgeError(f"Study {study.name!r} already holds {existing} evaluations: "
                               "pass --resume to continue it, or use another output folder")
        resumed = sync(replay=True)
    bar = tqdm(total=budget, initial=min(budget, len(evals)), desc=f"search {algo}", disable=not progress)
    dup = 0
    while len(evals) < budget:
        if study is not None and shared:
            sync(replay=False)
        params = algorithm.ask()
        if params is None:
            break
        key = space.key(params)
        if key in algorithm.seen:           # a repeat: tell it again, it costs no budget (and no evaluation)
            algorithm.tell(known.get(key) or problem.evaluate(params))
            dup += 1
            if dup > max_duplicates:
                break
            continue
        result = problem.evaluate(params)
        dup = 0
        if study is not None:
            study.record(result, algo=algo, worker=worker)
        record(result)
        bar.update(1)
        best = trace[-1][indicators.key]
        bar.set_postfix({f"best_{indicators.first.name}": f"{best:.4g}" if best is not None else "-",
                         "hv": f"{trace[-1]['hv']:.4f}" if trace[-1]["hv"] is not None else "-"})
    bar.close()
    return SearchResult(algo, seed, evals, trace, resumed)
