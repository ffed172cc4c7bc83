"""The study store (Optuna storage) and the ask/tell loop: budget, journal, resume, several workers.

A :class:`Study` owns its storage and journals each evaluation as one
complete, immutable Optuna trial: the params with their distributions (from
the problem's search space), the objective values in the problem's order,
the constraint values (``user_attrs["constraints"]``, in the problem's
order) and the result's attributes. A single worker adds its trial
atomically after the evaluation finished (an interrupted evaluation leaves
nothing behind, so a study is never corrupted). The default storage is
SQLite; any SQLAlchemy URL works (e.g. ``postgresql://user@host/db``, with
``pip install axforge[distributed]``), which is how several workers on
several machines share one study.

Shared workers claim before they evaluate (:meth:`Study.claim`): a worker
writes a RUNNING trial holding the params (``user_attrs`` ``worker``,
``algo``), then reads the trials numbered below its own: if one of them
holds the same params (RUNNING or COMPLETE), or the RUNNING and COMPLETE ones
already fill the budget, it releases its claim and does not evaluate.
Otherwise it evaluates, sends a heartbeat every ``HEARTBEAT_S`` seconds
meanwhile, and completes its own trial with the values, the constraints and
the result's attributes (the layout :meth:`Study.record` writes). A released
claim is a FAIL trial with ``user_attrs["released"]``: ``"duplicate"``,
``"budget"``, or ``"stale"`` (its worker was interrupted and restarted with
``--resume``); a claim whose heartbeat stopped for ``GRACE_S`` seconds is
failed by any worker (FAIL without ``released``). Its params become free
again. Trial numbers are assigned under a lock of the study row, so two
claims of the same params never both complete, and COMPLETE trials never
exceed the budget.

:func:`run_search` drives an ask/tell :class:`~axforge.search.algorithms.Algorithm`:
resuming replays the stored trials into it (nothing is evaluated twice), and
shared workers tell it each other's trials before every ask; params another
worker holds are pending (the algorithm is told their result when they
complete). A method that is not ask/tell (a gradient-based one such as
DARTS) writes its evaluations with :meth:`Study.record` directly::

    study = Study(problem, "sqlite:///out/study.db", "darts-s0")
    study.record(problem.result(params, values, constraints), algo="darts")
"""

import threading
import time
import warnings
from dataclasses import dataclass, field

from axforge.errors import AxforgeError, bad_value

from .algorithms import make_algorithm
from .pareto import hypervolume

__all__ = ["run_search", "SearchResult", "Study", "Claim", "open_study", "HEARTBEAT_S", "GRACE_S"]

HEARTBEAT_S = 10     # a claim's heartbeat period while it is evaluated
GRACE_S = 60         # a claim without a heartbeat for this long is failed by any worker
POLL_S = 0.5         # how often a waiting shared worker reads the study again


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


@dataclass(frozen=True)
class Claim:
    """A RUNNING trial that reserves ``params`` for one worker (see :meth:`Study.claim`)."""
    trial_id: int
    number: int
    params: dict
    attrs: dict


def _storage(url, heartbeat=False):
    """An Optuna RDB storage for the SQLAlchemy ``url``; ``heartbeat``: claims send heartbeats."""
    import optuna
    kw = {"heartbeat_interval": HEARTBEAT_S, "grace_period": GRACE_S} if heartbeat else {}
    if url.startswith("sqlite"):
        # several local workers write to one SQLite file: wait for its lock instead of failing
        kw["engine_kwargs"] = {"connect_args": {"timeout": 120}}
    from sqlalchemy.exc import IntegrityError, ProgrammingError
    for _ in range(3):
        try:
            with warnings.catch_warnings():          # the heartbeat arguments are marked experimental
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return optuna.storages.RDBStorage(url, **kw)
        except (IntegrityError, ProgrammingError) as exc:
            error = exc                  # workers starting together raced to create a new database's
            time.sleep(1.0)              # schema: the tables exist now, open it again
        except Exception as exc:   # noqa: BLE001 - any storage failure is the user's URL or file
            error = exc
            break
    raise AxforgeError(f"Study storage must be a reachable SQLAlchemy URL, not {url!r} ({error})") from None


def open_study(storage, name, directions=("minimize", "maximize")):
    """The Optuna study ``name`` on ``storage`` (a SQLAlchemy URL or an Optuna storage), created when
    missing."""
    import optuna
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    url = storage
    if isinstance(storage, str):
        storage = _storage(storage)
    try:
        return optuna.create_study(study_name=name, storage=storage, directions=list(directions),
                                   load_if_exists=True)
    except Exception as exc:   # noqa: BLE001 - any storage failure is the user's URL or file
        raise AxforgeError(f"Study storage must be a reachable SQLAlchemy URL, not {url!r} ({exc})") from None


class Study:
    """One problem's journal on Optuna storage: complete, immutable trials, in order, and the claims
    of shared workers (RUNNING trials).

    Parameters
    ----------
    problem : Problem -- fixes the space (distributions), the objectives (directions, value order)
        and the constraints (their order).
    storage : str -- a SQLAlchemy URL (``sqlite:///path/study.db``, ``postgresql://...``).
    name : str -- the study name (created when missing, loaded otherwise).
    shared : bool -- other workers write to it: claims send heartbeats (:meth:`claim`).
    """

    def __init__(self, problem, storage, name, shared=False):
        self.problem = problem
        self.name = name
        if isinstance(storage, str):
            storage = _storage(storage, heartbeat=shared)
        self.optuna = open_study(storage, name, [o.direction for o in problem.objectives])
        self._storage = storage                       # Optuna's storage API: trials by id, states, heartbeats
        self._id = self._storage.get_study_id_from_name(name)
        self._keys = {}                               # trial number -> space key (params never change)

    def _values(self, result):
        p = self.problem
        try:
            values = [float(result.values[o.name]) for o in p.objectives]
            cons = [float(result.constraints[c]) for c in p.constraints]
        except KeyError as exc:
            raise bad_value("Result to record", result, f"values for every objective and constraint "
                                                        f"(missing {exc.args[0]!r})") from None
        return values, cons

    def record(self, result, **attrs):
        """Journal ``result`` (a Result of this problem) as one complete trial, atomically; ``attrs``
        (e.g. ``algo``, ``worker``) go with it."""
        import optuna
        p = self.problem
        values, cons = self._values(result)
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

    # -- claims: several workers on one study ------------------------------------------------------

    def _key(self, t):
        """The space key of trial ``t``'s params (None for a trial of another problem)."""
        if t.number not in self._keys:
            try:
                self._keys[t.number] = self.problem.space.key(self.problem.space.validate(t.params))
            except (AxforgeError, ValueError, TypeError):
                self._keys[t.number] = None
        return self._keys[t.number]

    def _held(self, below=None):
        """The RUNNING and COMPLETE trials (numbered below ``below``): the claimed or done work."""
        import optuna
        states = (optuna.trial.TrialState.RUNNING, optuna.trial.TrialState.COMPLETE)
        return [t for t in self.optuna.get_trials(deepcopy=False, states=states) if below is None or t.number < below]

    def progress(self):
        """``(complete, running, held)``: how many trials are COMPLETE and RUNNING, and the space keys
        of both (the params no worker may claim)."""
        import optuna
        held = self._held()
        running = sum(t.state == optuna.trial.TrialState.RUNNING for t in held)
        return len(held) - running, running, {self._key(t) for t in held}

    def claim(self, params, budget=None, **attrs):
        """Reserve ``params`` for this worker: a RUNNING trial holding them and ``attrs`` (``worker``,
        ``algo``). Returns a :class:`Claim`, or None after releasing it when a trial numbered lower holds
        the same params (RUNNING or COMPLETE) or, with ``budget``, the lower RUNNING and COMPLETE trials
        number ``budget`` already."""
        import optuna
        space = self.problem.space
        params = space.validate(params)
        key = space.key(params)
        template = optuna.trial.create_trial(state=optuna.trial.TrialState.RUNNING, params=params,
                                             distributions=space.distributions(params), user_attrs=attrs)
        trial_id = self._storage.create_new_trial(self._id, template_trial=template)
        if self._storage.get_heartbeat_interval() is not None:
            self._storage.record_heartbeat(trial_id)
        number = self._storage.get_trial_number_from_id(trial_id)
        lower = self._held(below=number)
        if any(self._key(t) == key for t in lower):
            self._release(trial_id, "duplicate")
            return None
        if budget is not None and len(lower) >= budget:
            self._release(trial_id, "budget")
            return None
        return Claim(trial_id, number, params, dict(attrs))

    def complete(self, claim, result, budget=None):
        """Finish ``claim`` with ``result`` (the values, constraints and attributes :meth:`record`
        writes); True when the study holds it. A claim another worker failed meanwhile (its heartbeat
        was late) is claimed again first; False when that loses."""
        import optuna
        values, cons = self._values(result)
        try:
            for k, v in result.attrs.items():
                if k not in claim.attrs:
                    self._storage.set_trial_user_attr(claim.trial_id, k, v)
            self._storage.set_trial_user_attr(claim.trial_id, "constraints", cons)
            self._storage.set_trial_state_values(claim.trial_id, optuna.trial.TrialState.COMPLETE, values)
            return True
        except optuna.exceptions.UpdateFinishedTrialError:
            again = self.claim(claim.params, budget, **claim.attrs)
            return again is not None and self.complete(again, result, budget)

    def _release(self, trial_id, reason):
        import optuna
        try:
            self._storage.set_trial_user_attr(trial_id, "released", reason)
            self._storage.set_trial_state_values(trial_id, optuna.trial.TrialState.FAIL)
        except optuna.exceptions.UpdateFinishedTrialError:
            pass                     # another worker failed it already (its heartbeat was late)

    def release(self, worker):
        """Release the RUNNING claims of ``worker`` (left by an interrupted run of it: call this only
        when no process of that worker is running); returns their params, which are free again."""
        import optuna
        out = []
        for t in self.optuna.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
            if t.user_attrs.get("worker") == worker and self._key(t) is not None:
                self._release(self._storage.get_trial_id_from_study_id_trial_number(self._id, t.number), "stale")
                out.append(self.problem.space.validate(t.params))
        return out

    def fail_stale(self):
        """Fail the claims whose heartbeat stopped ``GRACE_S`` seconds ago (their worker died)."""
        import optuna
        with warnings.catch_warnings():              # marked experimental
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            optuna.storages.fail_stale_trials(self.optuna)

    def heartbeat(self, claim):
        """A context manager that sends ``claim``'s heartbeat every ``HEARTBEAT_S`` seconds."""
        return _Heartbeat(self._storage, claim.trial_id)


class _Heartbeat:
    def __init__(self, storage, trial_id):
        self.storage, self.trial_id = storage, trial_id
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._beat, daemon=True)

    def _beat(self):
        while not self.stop.wait(HEARTBEAT_S):
            try:
                self.storage.record_heartbeat(self.trial_id)
            except Exception:   # noqa: BLE001 - a missed beat only risks the claim; completing re-claims
                pass

    def __enter__(self):
        if self.storage.get_heartbeat_interval() is not None:
            self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        if self.thread.is_alive():
            self.thread.join()


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
    worker uses seed + 1000 * ``worker``, reads their results before asking
    and claims params before evaluating them, see :meth:`Study.claim`); the
    search ends when the study holds ``budget`` COMPLETE trials, or when the
    algorithm has nothing left to propose and no other worker holds a claim.
    A shared worker restarted with ``resume`` first releases the claims its
    interrupted run left RUNNING, and evaluates those params first (unless
    another worker takes them). Worker indices must be unique among the
    running workers of a study.
    """
    from tqdm import tqdm
    if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1:
        raise bad_value("Budget", budget, "an integer >= 1")
    problem.prepare()
    space = problem.space
    algorithm = make_algorithm(algo, problem, seed + 1000 * worker)
    algorithm.plan(budget)
    name = study_name or f"{algo}-s{seed}-{problem.key()[:12]}"
    study = Study(problem, storage, name, shared=shared) if storage else None
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

    def show():
        best = trace[-1][indicators.key]
        bar.set_postfix({f"best_{indicators.first.name}": f"{best:.4g}" if best is not None else "-",
                         "hv": f"{trace[-1]['hv']:.4f}" if trace[-1]["hv"] is not None else "-"})

    resumed, retry = 0, []
    if study is not None:
        existing = len(study.trials())
        if existing and not (resume or shared):
            raise AxforgeError(f"Study {study.name!r} already holds {existing} evaluations: "
                               "pass --resume to continue it, or use another output folder")
        if shared and resume:
            retry = study.release(worker)      # its interrupted evaluations: free again, and first in line
        # a study that already holds the budget is read back without re-issuing the asks: none
        # follows, so the algorithm's sequence need not stay in step (a finished search reloads in
        # seconds instead of refitting every surrogate)
        resumed = sync(replay=shared or existing < budget)
    bar = tqdm(total=budget, initial=min(budget, len(evals)), desc=f"search {algo}", disable=not progress)

    def repeat(params):
        """A point already seen: tell it again, at no cost (no budget, no evaluation); False after too many."""
        nonlocal dup
        algorithm.tell(known.get(space.key(params)) or problem.evaluate(params))
        dup += 1
        return dup <= max_duplicates

    def claimed():
        """The shared loop: evaluate only what this worker claimed; wait for what others hold."""
        nonlocal dup
        deferred = {}             # key -> params: asked while another worker held them (pending)

        def wait():
            study.fail_stale()    # a claim whose worker died is failed: its params are free again
            time.sleep(POLL_S)

        while True:
            complete, running, held = study.progress()
            sync(replay=False)        # after counting: it tells at least the trials counted complete
            bar.update(min(budget, complete) - bar.n)
            if complete >= budget:
                return
            for key in [k for k in deferred if k in algorithm.seen]:
                del deferred[key]
            retry.extend(deferred.pop(k) for k in [k for k in deferred if k not in held])   # released: free
            if complete + running >= budget:      # the rest of the budget is claimed: wait for it
                wait()
                continue
            while retry and space.key(retry[0]) in algorithm.seen:
                retry.pop(0)
            params = retry.pop(0) if retry else algorithm.ask()
            if params is None:
                if not (deferred or running):
                    return
                wait()                            # others' claims may still be released
                continue
            key = space.key(params)
            if key in algorithm.seen:
                if not repeat(params):
                    return
                continue
            if key in held:                       # another worker's claim: pending, told when it completes
                if key in deferred:               # asked again: the algorithm waits for that result
                    wait()
                deferred[key] = params
                continue
            claim = study.claim(params, budget, algo=algo, worker=worker)
            if claim is None:                     # another worker claimed it, or the budget, just before
                continue
            with study.heartbeat(claim):
                result = problem.evaluate(params)
            dup = 0
            if study.complete(claim, result, budget):
                record(result)
                show()
            else:
                deferred[key] = params

    dup = 0
    if study is not None and shared:
        claimed()
    else:
        while len(evals) < budget:
            params = algorithm.ask()
            if params is None:
                break
            if space.key(params) in algorithm.seen:     # a repeat: tell it again, it costs no budget
                if not repeat(params):
                    break
                continue
            result = problem.evaluate(params)
            dup = 0
            if study is not None:
                study.record(result, algo=algo, worker=worker)
            record(result)
            bar.update(1)
            show()
    bar.close()
    return SearchResult(algo, seed, evals, trace, resumed)
