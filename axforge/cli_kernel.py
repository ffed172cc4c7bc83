"""``axforge kernel ...``: the approximable kernels (AxBench's regions): list them, evaluate one."""

import os
from pathlib import Path

from .errors import AxforgeError, bad_value

__all__ = ["add_kernel_parser"]


def _names(names, most=8):
    """A column list for one line: all names, or the first few and the last when there are many."""
    if len(names) <= most:
        return ", ".join(names)
    return f"{', '.join(names[:3])}, ..., {names[-1]} ({len(names)})"


def cmd_kernel_list(args):
    from axforge.models.kernels import KERNELS, kernel
    for name in sorted(KERNELS):
        k = kernel(name)
        kind = {"relative": f"relative, floor {k.floor:g}", "absolute": f"absolute / {k.scale:g}",
                "miss": "miss: argmax differs"}[k.error_kind]
        print(f"{k.name}: {k.n_in} -> {k.n_out}")
        print(f"  inputs:  {_names(k.inputs)}")
        print(f"  outputs: {_names(k.outputs)}")
        print(f"  metric:  {k.metric} ({kind}); bounds g1 {k.bound(1):g}, g2 {k.bound(2):g}")
        where = " (from separate image regions)" if k.sample_by_split else ""
        print(f"  split:   train {k.n_train}, test {k.n_test}{where}")
        print(f"  domain:  {k.domain}")
        print(f"  source:  {k.source}")
        print("  ops:     " + (", ".join(f"{op} {n}" for op, n in k.ops.items()) or "-") + " (per exact invocation)")
    return 0


def _load_input(path):
    import numpy as np
    try:
        return np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise bad_value("Option --input", str(path), "an existing .npy file") from None
    except (OSError, ValueError) as exc:
        raise AxforgeError(f"Option --input must be a .npy array (numpy.save), not {str(path)!r} ({exc})") from None


def _save_atomic(path, array):
    """``np.save`` through a temporary file in the same folder and a rename."""
    import tempfile

    import numpy as np
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.save(f, array)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def cmd_kernel_eval(args):
    from axforge.models.kernels import kernel
    k = kernel(args.name)
    out = Path(args.output)
    if not out.parent.is_dir():
        raise bad_value("Option -o", args.output, f"a file in an existing folder ({str(out.parent)!r} is none)")
    if out.is_dir():
        raise bad_value("Option -o", args.output, "a file name, not a folder's")
    x = _load_input(args.input)
    k.check(x)
    y = k.exact(x.astype("float64"))
    _save_atomic(out, y)
    print(f"{k.name}: {x.shape[0]} x {k.n_in} -> {y.shape[0]} x {k.n_out} (raw units); wrote {out}")
    return 0


def add_kernel_parser(sub):
    # kernels are looked up when the command runs, so building this parser imports nothing heavy
    kern = sub.add_parser("kernel", help="approximable kernels (AxBench): list them, evaluate the exact function")
    ksub = kern.add_subparsers(dest="kernelcmd", required=True)

    ls = ksub.add_parser("list", help="every kernel: inputs, outputs, error metric, bounds, split sizes, source")
    ls.set_defaults(func=cmd_kernel_list)

    ev = ksub.add_parser("eval", help="the exact outputs of raw inputs (.npy (N, n_in) -> .npy (N, n_out))")
    ev.add_argument("name", help="a kernel (blackscholes, fft, ...; a wrong name lists them all)")
    ev.add_argument("--input", required=True, help=".npy of raw inputs, shape (N, n_in), in the kernel's units")
    ev.add_argument("-o", "--output", required=True, help=".npy written with the raw outputs (float32)")
    ev.set_defaults(func=cmd_kernel_eval)
    return kern
