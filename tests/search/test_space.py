"""The search space on ConfigSpace: conditional parameters, variable-length genomes, validation,
enumeration, Optuna distributions, keys."""

import itertools

import pytest

from axforge.errors import AxforgeError
from axforge.search.space import SearchSpace


def genome_space():
    s = SearchSpace("nas space")
    s.add_integer("depth", 1, 3)
    s.add_categorical("act", ["relu", "tanh"], when={"depth": [2, 3]})
    s.add_genome("node", (1, 3), {"op": ["add", "mul"], "mult": (0, 2)})
    return s


def test_conditional_and_genome_sampling_respect_the_conditions():
    s = genome_space()
    assert s.names == ("depth", "act", "node_len", "node0_op", "node0_mult", "node1_op", "node1_mult",
                       "node2_op", "node2_mult")
    points = s.sample(200, seed=0)
    lengths = set()
    for p in points:
        assert ("act" in p) == (p["depth"] >= 2)
        n = p["node_len"]
        lengths.add(n)
        for i in range(3):
            assert (f"node{i}_op" in p) == (i < n) == (f"node{i}_mult" in p)
        assert s.validate(p) == p
        assert all(type(v) in (int, str) for v in p.values())     # plain Python values, not numpy
    assert lengths == {1, 2, 3}
    assert s.sample(5, seed=3) == s.sample(5, seed=3)
    draw_a, draw_b = s.sampler(7), s.sampler(7)
    assert [draw_a() for _ in range(4)] == [draw_b() for _ in range(4)]


def test_validation_names_the_parameter_the_value_and_what_is_allowed():
    s = genome_space()
    ok = {"depth": 1, "node_len": 1, "node0_op": "add", "node0_mult": 2}
    assert s.validate(ok) == ok
    cases = [
        ({**ok, "node0_op": "sub"}, r"^Parameter 'node0_op' must be one of 'add', 'mul', not 'sub'$"),
        ({**ok, "depth": 4}, r"^Parameter 'depth' must be an integer in \[1, 3\], not 4$"),
        ({**ok, "depth": True}, r"^Parameter 'depth' must be an integer in \[1, 3\], not True$"),
        ({**ok, "act": "relu"}, r"^Parameter 'act' must be unset \(inactive for depth = 1\), not 'relu'$"),
        ({**ok, "node1_op": "add"}, r"^Parameter 'node1_op' must be unset \(inactive for node_len = 1\), not 'add'$"),
        ({**ok, "depth": 2}, r"^Parameter 'act' must be one of 'relu', 'tanh' \(it is active\), not None$"),
        ({**ok, "node_len": 2}, r"^Parameter 'node1_op' must be one of 'add', 'mul' \(it is active\), not None$"),
        ({**ok, "width": 3}, r"^Parameter of the nas space must be one of 'depth', 'act', .*'node2_mult', "
                             r"not 'width'$"),
    ]
    for params, message in cases:
        with pytest.raises(AxforgeError, match=message):
            s.validate(params)
    with pytest.raises(AxforgeError, match=r"^Search parameter name must be a name not yet in the space, not 'depth'$"):
        s.add_integer("depth", 0, 1)


def test_enumeration_of_a_conditional_genome_space():
    s = genome_space()
    # depth 1: no act; depth 2, 3: act in 2 values -> 1 + 2 * 2 = 5 heads; genome of length n: 6 ** n
    assert s.size == 5 * (6 + 6 ** 2 + 6 ** 3) == 1290
    assert s.size_bound == 3 * 2 * 3 * 6 ** 3          # ConfigSpace's bound counts inactive parameters
    points = list(s.enumerate())
    keys = {s.key(p) for p in points}
    assert len(points) == len(keys) == 1290
    assert all(s.validate(p) == p for p in points[::37])


def test_enumeration_without_conditions_is_the_product_in_declaration_order():
    s = SearchSpace()
    for i in range(12):                            # l10, l11 after l9 (ConfigSpace sorts names)
        s.add_categorical(f"l{i}", [0, 1, 2])
    first = list(itertools.islice(s.enumerate(), 4))
    assert [tuple(p.values()) for p in first] == [(0,) * 12, (0,) * 11 + (1,), (0,) * 11 + (2,), (0,) * 10 + (1, 0)]
    assert list(first[0]) == [f"l{i}" for i in range(12)]
    assert s.size == s.size_bound == 3 ** 12


def test_distributions_key_and_define_by_run_suggestions():
    import optuna
    s = genome_space()
    p = {"node0_mult": 1, "node0_op": "mul", "node_len": 1, "depth": 2, "act": "tanh"}
    d = s.distributions(p)
    assert list(d) == ["depth", "act", "node_len", "node0_op", "node0_mult"]
    assert d["act"] == optuna.distributions.CategoricalDistribution(["relu", "tanh"])
    assert d["node0_mult"] == optuna.distributions.IntDistribution(0, 2)
    assert s.key(p) == s.key(s.validate(p)) == (2, "tanh", 1, "mul", 1, None, None, None, None)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(20):
        trial = study.ask()
        q = s.suggest(trial)
        assert s.validate(q) == q and set(trial.params) == set(q)


def test_float_parameters_and_bad_ranges():
    s = SearchSpace()
    s.add_float("lr", 1e-4, 1e-1, log=True)
    s.add_integer("width", 8, 64, log=True)
    p = s.sample(seed=1)
    assert 1e-4 <= p["lr"] <= 1e-1 and 8 <= p["width"] <= 64
    assert s.size is None
    with pytest.raises(AxforgeError, match=r"^Enumeration of the search space must be a space without floats"):
        s.enumerate()
    with pytest.raises(AxforgeError, match=r"^Range of parameter 'w' must be two integers low <= high"):
        s.add_integer("w", 3, 1)
    with pytest.raises(AxforgeError, match=r"^Choices of parameter 'c' must be a non-empty list without repeats"):
        s.add_categorical("c", ["a", "a"])
    with pytest.raises(AxforgeError, match=r"^Condition parent of parameter 'd' must be a parameter added before it"):
        s.add_categorical("d", [0, 1], when={"nosuch": 1})
