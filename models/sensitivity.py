"""Single-layer sensitivity (AutoApprox's calibration study, their Fig. 8).

For every (layer, multiplier) pair: the accuracy of the quantised network when
exactly that layer uses that multiplier and every other layer stays exact.
"""

from pathlib import Path

from axforge.paths import atomic_write_bytes, write_json

from .layers import QuantConfig, approx_layers, approximate, remap
from .train import evaluate

__all__ = ["sensitivity", "heatmap_png"]


def sensitivity(trained, specs, config=QuantConfig(), progress=True, limit=None):
    """Accuracy table ``acc[layer][spec]`` plus the float and exact 8-bit accuracies (dict, JSON-able).

    Measured on the validation split (a calibration study: what it selects must not have seen the
    test split); ``limit`` evaluates on its first ``limit`` images only.
    """
    from tqdm import tqdm
    data = trained.data
    x, y = data.x_val[:limit], data.y_val[:limit]
    qmodel, report = approximate(trained.model, {}, trained.calib_batches(), config)
    layers = [n for n, _ in approx_layers(qmodel)]
    result = {"float_accuracy": evaluate(trained.model, x, y), "exact_accuracy": evaluate(qmodel, x, y),
              "layers": layers, "mults": [str(s) for s in specs],
              "macs": {r.name: r.macs for r in report}, "accuracy": {}, "images": len(y), "split": "val"}
    bar = tqdm(total=len(layers) * len(specs), desc="sensitivity", disable=not progress)
    for name in layers:
        row = {}
        for spec in specs:
            remap(qmodel, {name: spec})
            row[str(spec)] = evaluate(qmodel, x, y)
            bar.update()
        result["accuracy"][name] = row
    bar.close()
    remap(qmodel, {})
    return result


def heatmap_png(result, path):
    """Layers x multipliers heatmap of the accuracy drop vs the exact 8-bit network."""
    import io

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    layers, mults = result["layers"], result["mults"]
    drop = np.array([[100 * (result["exact_accuracy"] - result["accuracy"][l][m]) for m in mults] for l in layers])
    fig, ax = plt.subplots(figsize=(1.2 + 1.1 * len(mults), 1.0 + 0.35 * len(layers)))
    im = ax.imshow(drop, cmap="magma_r", aspect="auto", vmin=min(0.0, drop.min()), vmax=max(1.0, drop.max()))
    ax.set_xticks(range(len(mults)), [m.replace(":", ":\n", 1) for m in mults], fontsize=7, rotation=45, ha="right")
    ax.set_yticks(range(len(layers)), layers, fontsize=7)
    for i in range(len(layers)):
        for j in range(len(mults)):
            ax.text(j, i, f"{drop[i, j]:.1f}", ha="center", va="center", fontsize=6,
                    color="white" if drop[i, j] > drop.max() / 2 else "black")
    fig.colorbar(im, ax=ax, label="accuracy drop vs exact 8-bit (points)")
    ax.set_title(f"single-layer sensitivity (exact 8-bit: {100 * result['exact_accuracy']:.2f} %)", fontsize=9)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, dpi=120)
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())


def write_sensitivity(result, out_dir):
    out = Path(out_dir)
    write_json(out / "sensitivity.json", result)
    heatmap_png(result, out / "sensitivity.png")
    return out / "sensitivity.json", out / "sensitivity.png"

