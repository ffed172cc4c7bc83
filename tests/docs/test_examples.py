"""The documents' worked examples, re-run: every number a ```console block prints must come out again.

Each ```console block in README.md and docs/*.md is a list of ``$ command`` lines, each followed by
the output the document shows. The blocks of one document run in order in one scratch folder (later
examples use what earlier ones wrote), and each shown output is compared with what the command
prints now:

* a ``...`` line stands for any number of lines;
* every other line must match the printed line exactly, except the values that measure this
  machine or this cache rather than the design (:data:`VOLATILE`: seconds, simulated cycles and
  samples per second, how many evaluations came from the cache), which match any number;
* a shown output that starts with ``axforge: error:`` expects exit status 2 (printed on stderr),
  any other exit status 0;
* trained weights are compared too (``weights <digest>``): training runs with pinned float
  kernels, so another x86 CPU with AVX2 must print the document's digest; where it does not, the
  failure says so first (every later number may differ for that reason alone).

An HTML comment right before a block steers it:

* ``<!-- docs-check: slow -->`` runs the block only in ``make test-slow`` (the demo, the search);
* ``<!-- docs-check: routes -->`` also re-runs the block with the int8 GEMM route this CPU does
  not pick forced (``AXFORGE_INT8_GEMM``): that route may change speed, never a number;
* ``<!-- docs-check: file PATH -->`` before a non-console block writes its text to ``PATH`` in the
  scratch folder (a file that the next examples read).
"""

import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from axforge.models import int8gemm

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BIN = Path(sys.executable).parent

NUM = r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?"
VOLATILE = [
    re.compile(rf"(?<![\w.]){NUM}(?= ?s\b)"),                                  # "0.55 s", "(42.9 s)", "39 s"
    re.compile(rf'(?:(?<="seconds": )|(?<=_s": )){NUM}'),                    # "seconds": 8.44, "rate_wall_s": ...
    re.compile(rf"{NUM}(?= network runs?, )|{NUM}(?= from the cache)"),    # cache state, not the design
    re.compile(rf"{NUM}(?= (?:simulated cycles|samples)/s)"),                # simulation rates
]
WILD = "\x00"


@dataclass
class Example:
    command: str
    shown: list = field(default_factory=list)
    line: int = 0


@dataclass
class Block:
    doc: Path
    line: int
    examples: list = field(default_factory=list)
    flags: set = field(default_factory=set)
    file: tuple = None          # (path, text) for a file block


def parse(doc):
    """The console blocks and file blocks of ``doc``, in order."""
    lines = doc.read_text().splitlines()
    blocks, flags, i = [], set(), 0
    file_path = None
    while i < len(lines):
        text = lines[i]
        m = re.fullmatch(r"<!-- docs-check: (slow|routes|file \S+) -->", text.strip())
        if m:
            word = m.group(1)
            if word.startswith("file "):
                file_path = word[5:]
            else:
                flags.add(word)
            i += 1
            continue
        if text.startswith("```"):
            lang, start = text[3:].strip(), i + 1
            i += 1
            body = []
            while i < len(lines) and not lines[i].startswith("```"):
                body.append(lines[i])
                i += 1
            if file_path:
                blocks.append(Block(doc, start, flags=set(flags), file=(file_path, "\n".join(body) + "\n")))
            elif lang == "console":
                block = Block(doc, start, flags=set(flags))
                j = 0
                while j < len(body):
                    if body[j].startswith("$ "):
                        cmd, line = body[j][2:], start + j + 1
                        while cmd.endswith("\\") and j + 1 < len(body):
                            j += 1
                            cmd = cmd[:-1] + " " + body[j].strip()
                        block.examples.append(Example(cmd, line=line))
                    elif block.examples:
                        block.examples[-1].shown.append(body[j])
                    j += 1
                blocks.append(block)
            flags, file_path = set(), None
        elif text.strip():
            flags, file_path = set(), None
        i += 1
    return blocks


def mask(text):
    for pattern in VOLATILE:
        text = pattern.sub(WILD, text)
    return text


def line_matches(shown, printed):
    want = mask(shown).rstrip()
    got = printed.rstrip()
    if WILD not in want:
        return want == got
    parts = [re.escape(p) for p in want.split(WILD)]
    return re.fullmatch(NUM.join(parts), got) is not None


def output_matches(shown, printed):
    """Whether ``printed`` lines show ``shown`` (``...`` = any lines)."""
    def rec(i, j):
        if i == len(shown):
            return j == len(printed)
        if shown[i].strip() == "...":
            return any(rec(i + 1, k) for k in range(j, len(printed) + 1))
        return j < len(printed) and line_matches(shown[i], printed[j]) and rec(i + 1, j + 1)
    return rec(0, 0)


WEIGHTS = re.compile(r"weights ([0-9a-f]{12})")


def shell_command(command):
    """``make demo`` is ``axforge demo`` after the venv set-up the suite already runs in; run here,
    it writes into the scratch folder instead of the checkout."""
    return "axforge demo" if command.strip() == "make demo" else command


def run(example, cwd, env):
    """Run one example; returns its failures (a list of messages)."""
    proc = subprocess.run(["bash", "-c", shell_command(example.command)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=1800)
    error = bool(example.shown) and example.shown[0].startswith("axforge: error:")
    printed = proc.stderr if error else proc.stdout
    where = f"{example.command!r} ({example.line}): "
    failures = []
    if proc.returncode != (2 if error else 0):
        failures.append(where + f"exit status {proc.returncode}\n{proc.stderr[-2000:]}")
    shown_w, printed_w = WEIGHTS.findall("\n".join(example.shown)), WEIGHTS.findall(printed)
    if shown_w and printed_w and shown_w != printed_w:
        failures.append(where + f"this machine trained other weights ({printed_w[0]}) than the document's "
                        f"({shown_w[0]}): the pinned training kernels did not reproduce here")
    if example.shown and not output_matches(example.shown, printed.splitlines()):
        failures.append(where + "shown:\n" + "\n".join(example.shown) + "\nprinted:\n" + printed)
    return failures


def run_doc(doc, tmp_path, slow):
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}", AXFORGE_HOME=str(tmp_path / "home"),
               COLUMNS="100")
    failures, ran = [], 0
    for block in parse(doc):
        if "slow" in block.flags and not slow:
            continue
        if block.file:
            path = tmp_path / block.file[0]
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(block.file[1])
            continue
        # the detected route runs first (no override); then each other route, forced
        routes = [None] + ([r for r in ("0", "1") if r != str(int(int8gemm.INT8_GEMM))]
                           if "routes" in block.flags else [])
        for route in routes:
            e = env if route is None else dict(env, AXFORGE_INT8_GEMM=route)
            for example in block.examples:
                tag = f"[AXFORGE_INT8_GEMM={route}] " if route else ""
                failures += [tag + f for f in run(example, tmp_path, e)]
                ran += 1
    return ran, failures


def check_doc(doc, tmp_path, slow):
    ran, failures = run_doc(doc, tmp_path, slow)
    assert not failures, "\n\n".join(failures)
    return ran


def _ids():
    return [d.relative_to(ROOT).as_posix() for d in DOCS]


@pytest.mark.parametrize("doc", DOCS, ids=_ids())
def test_examples_reproduce(doc, tmp_path):
    ran = check_doc(doc, tmp_path, slow=False)
    assert ran > 0 or not any(b.examples for b in parse(doc))


@pytest.mark.slow
@pytest.mark.parametrize("doc", DOCS, ids=_ids())
def test_all_examples_reproduce(doc, tmp_path):
    """The slow blocks too (the demo, the search), after the blocks they build on."""
    check_doc(doc, tmp_path, slow=True)


# -- the checker itself -------------------------------------------------------------

def test_the_checker_masks_only_measurements():
    assert line_matches("trunc -> out/a.v (0.55 s, hash cd93)", "trunc -> out/a.v (1.20 s, hash cd93)")
    assert not line_matches("trunc -> out/a.v (0.55 s, hash cd93)", "trunc -> out/a.v (0.55 s, hash cd94)")
    assert not line_matches('"mae": 240.69,', '"mae": 240.7,')
    assert line_matches('{"seconds": 8.44, "cycles": 150}', '{"seconds": 9.1, "cycles": 150}')
    assert not line_matches('{"seconds": 8.44, "cycles": 150}', '{"seconds": 9.1, "cycles": 151}')
    assert line_matches("drum:8x8s:k=4 98.33 %", "drum:8x8s:k=4 98.33 %")
    assert not line_matches("accuracy 98.61 %", "accuracy 98.33 %")
    assert line_matches("(0 network runs, 180 from the cache)", "(180 network runs, 0 from the cache)")
    assert output_matches(["a", "...", "d"], ["a", "b", "c", "d"])
    assert output_matches(["a", "...", "d"], ["a", "d"])
    assert not output_matches(["a", "...", "d"], ["a", "b", "c"])
    assert not output_matches(["a", "b"], ["a", "b", "c"])


def test_the_checker_reads_blocks_flags_and_files(tmp_path):
    doc = tmp_path / "d.md"
    doc.write_text("text\n<!-- docs-check: file out/m.yaml -->\n```yaml\nfc: exact\n```\n\n"
                   "<!-- docs-check: routes -->\n```console\n$ echo a \\\n    b\na b\n$ true\n```\n"
                   "```console\n$ printf 'x\\n'\nx\n```\n")
    blocks = parse(doc)
    assert blocks[0].file == ("out/m.yaml", "fc: exact\n")
    assert blocks[1].flags == {"routes"} and [(e.command, e.shown) for e in blocks[1].examples] == \
        [("echo a  b", ["a b"]), ("true", [])]
    assert blocks[2].flags == set()
    ran, failures = run_doc(doc, tmp_path, slow=False)
    assert (ran, failures) == (2 * 2 + 1, []) and (tmp_path / "out/m.yaml").read_text() == "fc: exact\n"
    doc.write_text("```console\n$ echo 98.33 %\n98.61 %\n$ false\n```\n")
    assert len(run_doc(doc, tmp_path, slow=False)[1]) == 2
    # other trained weights than the document's: a failure that names both digests
    doc.write_text("```console\n$ echo weights 0123456789ab\nweights ba9876543210\n```\n")
    failures = run_doc(doc, tmp_path, slow=False)[1]
    assert len(failures) == 2 and "other weights (0123456789ab) than the document's (ba9876543210)" in failures[0]
