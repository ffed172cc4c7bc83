"""`axforge map` end to end on a small MLP with a bank whose PPA is given (no synthesis), and its bad input."""

import json

import pytest

from axforge.cli import main

BANK = """rows: 2
cols: 2
multipliers:
  - {spec: "exact:8x8u:arch=dadda", energy_pj_per_mac: 1.10, area_um2: 3000}
  - {spec: "trunc:8x8u:k=6,comp=const", energy_pj_per_mac: 0.80, area_um2: 2200}
  - {spec: "drum:8x8u:k=4", energy_pj_per_mac: 0.60, area_um2: 1800}
"""


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("mlp")
    assert main(["model", "train", "mlp", "--epochs", "3", "-o", str(out), "-q"]) == 0
    return out


@pytest.fixture(scope="module")
def bank(tmp_path_factory):
    p = tmp_path_factory.mktemp("bank") / "bank.yaml"
    p.write_text(BANK)
    return p


def test_map_writes_the_report_the_chip_and_checks_it(model_dir, bank, tmp_path, capsys):
    out = tmp_path / "map"
    argv = ["map", "--model", str(model_dir), "--bank", str(bank), "--budget", "14", "--algo",
            "autoapprox,random,greedy", "--target", "loss=1", "-o", str(out), "-q"]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "bit-exact with the emulation = True" in text
    pareto = json.loads((out / "pareto.json").read_text())
    assert pareto["pareto"] and set(pareto["picks"]) == {"S", "L", "XL"}
    assert set(pareto["comparison"]) == {"autoapprox", "random", "greedy"}
    s = pareto["picks"]["S"]
    assert s["feasible"] and s["accuracy"] >= pareto["target_accuracy"]
    for name in ("pareto.csv", "evaluations.csv", "report.md", "summary.json", "chip/chip.yaml",
                 "chip/manifest.json", "chip/check.json", "chip/mapping.json"):
        assert (out / name).exists(), name
    for name in ("pareto.png", "convergence.png"):
        assert (out / name).read_bytes()[:4] == b"\x89PNG"
    assert "| S (chosen) |" in (out / "report.md").read_text()
    check = json.loads((out / "chip" / "check.json").read_text())
    assert check["bit_exact"] and check["shape"][1] == 64
    # resume: the journal holds every evaluation, so nothing is re-run
    assert main(argv[:-1] + ["--resume", "--no-check", "-q"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["network_evaluations"] == 0


@pytest.mark.parametrize("bank_text, extra, message", [
    ("rows: 2\ncols: 2\nmultipliers: [exact:8x8u, nosuch:8x8u]\n", [], "multipliers[1] 'nosuch:8x8u' is not a known"),
    ("rows: 2\ncolumns: 2\nmultipliers: [exact:8x8u]\n", [], "key must be one of"),
    (BANK, ["--budget", "0"], "Budget must be an integer >= 1, not 0"),
    (BANK, ["--target", "1.5"], "Target must be 'no-loss'"),
    (BANK, ["--area-budget", "10"], "Area budget (um2) must be at least 3000.0"),
    (BANK, ["--algo", "annealing"], "Algorithm must be one of autoapprox"),
])
def test_bad_input_fails_before_any_work(bank_text, extra, message, model_dir, tmp_path, capsys):
    bank = tmp_path / "bank.yaml"
    bank.write_text(bank_text)
    out = tmp_path / "out"
    assert main(["map", "--model", str(model_dir), "--bank", str(bank), "-o", str(out), "-q", *extra]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_model_dir_without_checkpoint(bank, tmp_path, capsys):
    assert main(["map", "--model", str(tmp_path), "--bank", str(bank), "-o", str(tmp_path / "o"), "-q"]) == 2
    assert "Model directory must be a folder with model.pt" in capsys.readouterr().err


def test_local_workers_share_one_study(model_dir, bank, tmp_path, capsys):
    out = tmp_path / "par"
    assert main(["map", "--model", str(model_dir), "--bank", str(bank), "--budget", "16", "--algo", "random",
                 "--target", "loss=1", "--jobs", "2", "--no-check", "-o", str(out), "-q"]) == 0
    import optuna
    study = optuna.load_study(study_name=optuna.get_all_study_names(f"sqlite:///{out / 'study.db'}")[0],
                              storage=f"sqlite:///{out / 'study.db'}")
    workers = {t.user_attrs["worker"] for t in study.trials}
    # both workers evaluated; a worker may finish one evaluation past the budget, and two workers may
    # occasionally evaluate the same mapping at the same time (3 layers x 3 arrays = 27 mappings here)
    assert workers == {0, 1} and 16 <= len(study.trials) <= 20
    choices = [tuple(sorted(t.params.items())) for t in study.trials]
    assert len(set(choices)) >= 14
    assert json.loads((out / "summary.json").read_text())["evaluations"]["random"] >= 16


def test_unreachable_target_fails_before_pricing_the_arrays(model_dir, tmp_path, capsys, monkeypatch):
    import axforge.search.bank as bankmod

    def no_ppa(*a, **k):
        raise AssertionError("array PPA must not run for an unreachable target")
    monkeypatch.setattr(bankmod, "bank_candidates", no_ppa)
    bank = tmp_path / "bank.yaml"
    bank.write_text("rows: 2\ncols: 2\nmultipliers: [exact:8x8u:arch=dadda, drum:8x8u:k=4]\n")
    out = tmp_path / "out"
    assert main(["map", "--model", str(model_dir), "--bank", str(bank), "--target", "0.9999", "-o", str(out),
                 "-q"]) == 2
    assert "Target accuracy must be at most the exact network's" in capsys.readouterr().err
    assert not out.exists()


def test_search_selects_on_validation_and_reports_the_test_split(model_dir, bank, tmp_path, capsys):
    """Every accuracy the search journals is the validation split's; the picks carry their held-out
    test accuracy, measured on the test split after the search (each equals `model eval` on it)."""
    from axforge.hdl.arith import MultSpec
    from axforge.models.layers import QuantConfig, approximate
    from axforge.models.train import evaluate, load_trained
    from axforge.search.bank import NetworkEvaluator
    out = tmp_path / "map"
    assert main(["map", "--model", str(model_dir), "--bank", str(bank), "--budget", "8", "--target", "loss=2",
                 "--no-check", "-o", str(out), "-q"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    trained = load_trained(model_dir)
    exact, _ = approximate(trained.model, {}, trained.calib_batches(4), QuantConfig())
    data = trained.data
    assert summary["exact_accuracy"] == evaluate(exact, data.x_val, data.y_val)
    assert summary["exact_test_accuracy"] == evaluate(exact, data.x_test, data.y_test)
    assert summary["split"] == {"search": "val", "images": len(data.y_val), "test_images": len(data.y_test)}
    ev = NetworkEvaluator(trained, QuantConfig())
    picks = json.loads((out / "pareto.json").read_text())["picks"]
    for name, p in picks.items():
        mapping = {layer: None if spec.startswith("exact") else MultSpec.parse(spec)
                   for layer, spec in p["mapping"].items()}
        assert summary["picks"][name]["test_accuracy"] == ev.held_out(mapping)
        assert p["test_accuracy"] == round(ev.held_out(mapping), 6)
        assert p["accuracy"] == round(summary["picks"][name]["accuracy"], 6)
    report = (out / "report.md").read_text()
    assert "| pick | validation accuracy % | test accuracy % |" in report
    printed = capsys.readouterr().out
    assert f"search on {len(data.y_val)} validation images" in printed
