"""The study journal: resume without repeating work, refusal to overwrite, interruption safety."""

import pytest

from axforge.errors import AxforgeError
from axforge.search.study import open_study, run_search

from search_synthetic import make_problem


def test_resume_continues_without_repeating(tmp_path):
    url = f"sqlite:///{tmp_path / 'study.db'}"
    p, acc = make_problem(5)
    first = run_search(p, "autoapprox", budget=25, seed=1, storage=url, study_name="s", progress=False)
    assert acc.calls == 25
    p2, acc2 = make_problem(5)
    with pytest.raises(AxforgeError, match=r"^Study 's' already holds 25 evaluations: pass --resume"):
        run_search(p2, "autoapprox", budget=40, seed=1, storage=url, study_name="s", progress=False)
    resumed = run_search(p2, "autoapprox", budget=40, seed=1, storage=url, study_name="s", resume=True,
                         progress=False)
    assert resumed.resumed == 25 and len(resumed.evaluations) == 40
    assert acc2.calls == 15 + 1          # 15 new mappings (+1: the target's exact-network evaluation)
    # the resumed run equals an uninterrupted one
    p3, _ = make_problem(5)
    straight = run_search(p3, "autoapprox", budget=40, seed=1, progress=False)
    assert [e.choice for e in resumed.evaluations] == [e.choice for e in straight.evaluations]
    assert [e.choice for e in first.evaluations] == [e.choice for e in straight.evaluations[:25]]


def test_an_interrupted_evaluation_leaves_no_trial(tmp_path):
    url = f"sqlite:///{tmp_path / 'study.db'}"
    p, acc = make_problem(4)
    calls = {"n": 0}
    real = p.accuracy_fn

    def flaky(mapping):
        calls["n"] += 1
        if calls["n"] == 8:
            raise KeyboardInterrupt
        return real(mapping)
    p.accuracy_fn = flaky
    with pytest.raises(KeyboardInterrupt):
        run_search(p, "random", budget=20, storage=url, study_name="r", progress=False)
    study = open_study(url, "r")
    assert len(study.trials) == 6 and all(t.state.name == "COMPLETE" for t in study.trials)
    p2, _ = make_problem(4)
    r = run_search(p2, "random", budget=20, storage=url, study_name="r", resume=True, progress=False)
    assert r.resumed == 6 and len(r.evaluations) == 20 and len(open_study(url, "r").trials) == 20


def test_bad_storage_url():
    p, _ = make_problem(3)
    with pytest.raises(AxforgeError, match=r"^Study storage must be a reachable SQLAlchemy URL"):
        run_search(p, "random", budget=2, storage="nosuchdb://x", study_name="x", progress=False)
