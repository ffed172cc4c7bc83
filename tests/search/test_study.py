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


def test_a_generic_problem_resumes_without_repeats(tmp_path):
    from search_toy import Toy
    url = f"sqlite:///{tmp_path / 'toy.db'}"
    toy = Toy()
    first = run_search(toy, "random", budget=20, seed=4, storage=url, study_name="toy", progress=False)
    assert toy.calls == 20
    toy2 = Toy()
    resumed = run_search(toy2, "random", budget=35, seed=4, storage=url, study_name="toy", resume=True,
                         progress=False)
    assert resumed.resumed == 20 and len(resumed.evaluations) == 35 and toy2.calls == 15
    keys = [toy2.space.key(e.params) for e in resumed.evaluations]
    assert len(set(keys)) == 35
    straight = run_search(Toy(), "random", budget=35, seed=4, progress=False)
    assert [e.params for e in resumed.evaluations] == [e.params for e in straight.evaluations]
    assert [e.params for e in first.evaluations] == [e.params for e in straight.evaluations[:20]]
    # each trial is complete: params with the space's distributions (inactive ones absent), values in the
    # objectives' order, constraints in theirs, the result's attributes
    trials = open_study(url, "toy", ["maximize", "minimize", "minimize"]).trials
    assert len(trials) == 35 and all(t.state.name == "COMPLETE" for t in trials)
    for t, e in zip(trials, resumed.evaluations):
        assert t.params == dict(e.params) and set(t.distributions) == set(e.params)
        assert t.values == [e.values["score"], e.values["size"], e.values["risk"]]
        assert t.user_attrs["constraints"] == [e.constraints["limit"]] and t.user_attrs["z"] == e.attrs["z"]
        assert ("scale" in t.params) == (t.params["op"] == "mul")


def test_a_gradient_method_records_into_the_study_directly(tmp_path):
    """A method that is not ask/tell (DARTS) journals its evaluations with Study.record; an ask/tell
    method resuming the same study sees them and does not repeat them."""
    from search_toy import Toy

    from axforge.search.study import Study
    url = f"sqlite:///{tmp_path / 'darts.db'}"
    toy = Toy()
    study = Study(toy, url, "shared")
    derived = [{"x": 1, "y": 1, "op": "add"}, {"x": 2, "y": 2, "op": "mul", "scale": 2}, {"x": 4, "y": 0, "op": "add"}]
    for epoch, params in enumerate(derived):
        r = toy.evaluate(params)
        study.record(toy.result(r.params, r.values, r.constraints, {**r.attrs, "epoch": epoch}), algo="darts")
    assert toy.calls == 3 and len(study) == 3
    back = Study(Toy(), url, "shared").trials()
    assert [n for n, _ in back] == [0, 1, 2]
    assert [dict(r.params) for _, r in back] == derived
    assert [r.values["score"] for _, r in back] == [2.0, 8.0, 4.0]
    assert back[1][1].constraints["limit"] == 0.0 and back[1][1].feasible
    assert back[2][1].attrs == {"z": 4, "epoch": 2, "algo": "darts"}
    toy2 = Toy()
    r = run_search(toy2, "exhaustive", budget=10, storage=url, study_name="shared", resume=True, progress=False)
    assert r.resumed == 3 and toy2.calls == 7 and len(r.evaluations) == 10
    assert len({toy2.space.key(e.params) for e in r.evaluations}) == 10
    with pytest.raises(AxforgeError, match=r"^Result to record must be values for every objective and constraint "
                                           r"\(missing 'risk'\)"):
        from axforge.search.objectives import Result
        study.record(Result({"x": 0, "y": 0, "op": "add"}, {"score": 0.0, "size": 0.0}, {"limit": -8.0}))
