"""The README's shell blocks, as `tests/test_readme.py` runs them.

A ```bash block preceded by `<!-- readme-test: run -->` runs; one preceded by
`<!-- readme-test: skip (why) -->` does not, and says why; a bash block with neither is an
error, so no example escapes the test unnoticed. The outputs a run block shows are its
expectations: every `"key": value` in its comment lines, and in a ```json block marked
`<!-- readme-test: output -->` right after it, must be in what the block printed; a value with
`…` in it (an id, a secret, a time) only needs the key to be there.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

README = Path(__file__).resolve().parent.parent / "README.md"

_FENCE = re.compile(r"^```(\w*)\s*$")
_MARK = re.compile(r"^<!-- readme-test: (run|skip|output)(.*)-->\s*$")
_PAIR = re.compile(r'"(\w+)"\s*:\s*("(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?|true|false|null)')
_SENTINEL = "@@readme-block"
ANY = object()  # an expected value shown with `…`: only the key must be there


@dataclass
class Block:
    """One marked ```bash block of the README."""

    line: int  # of its opening fence, counted from 1
    run: bool
    code: str
    expected: list[tuple[str, Any]] = field(default_factory=list)


@dataclass
class Outcome:
    """What a run block printed, and the expected pairs it did not print."""

    block: Block
    stdout: str

    def missing(self) -> list[tuple[str, Any]]:
        """The expected `(key, value)` pairs the output lacks."""
        printed = pairs(self.stdout)
        keys = {key for key, _ in printed}
        return [
            (key, value)
            for key, value in self.block.expected
            if (key not in keys if value is ANY else (key, _canonical(value)) not in printed)
        ]


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def pairs(text: str) -> set[tuple[str, str]]:
    """Every `"key": value` (a string, number, boolean or null) in `text`, canonicalised."""
    return {(key, _canonical(json.loads(raw))) for key, raw in _PAIR.findall(text)}


def expectations(text: str) -> list[tuple[str, Any]]:
    """The `(key, value)` pairs shown in `text`; `ANY` for a value with `…` in it."""
    out: list[tuple[str, Any]] = []
    for key, raw in _PAIR.findall(text):
        out.append((key, ANY if "…" in raw else json.loads(raw)))
    return out


def blocks(text: str) -> list[Block]:
    """The README's bash blocks, in order; raises ValueError for an unmarked one."""
    lines = text.splitlines()
    found: list[Block] = []
    i = 0
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        if opening is None:
            i += 1
            continue
        end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
        body = lines[i + 1 : end]
        mark = _MARK.match(lines[i - 1]) if i else None
        language = opening.group(1)
        if language == "bash":
            if mark is None or mark.group(1) == "output":
                raise ValueError(
                    f"README.md:{i + 1}: a bash block needs <!-- readme-test: run --> or "
                    "<!-- readme-test: skip (why) --> on the line before it"
                )
            if mark.group(1) == "skip" and not mark.group(2).strip(" ()"):
                raise ValueError(f"README.md:{i + 1}: say why the block is skipped")
            comments = "\n".join(ln for ln in body if ln.lstrip().startswith("#"))
            found.append(Block(i + 1, mark.group(1) == "run", "\n".join(body), []))
            found[-1].expected = expectations(comments)
        elif mark is not None and mark.group(1) == "output":
            if not found or not found[-1].run:
                raise ValueError(f"README.md:{i + 1}: an output block follows no run block")
            found[-1].expected += expectations("\n".join(body))
        i = end + 1
    return found


def run_in_order(
    to_run: Sequence[Block], *, cwd: Path, env: Mapping[str, str], scripts: Path, timeout: float
) -> tuple[list[Outcome], subprocess.CompletedProcess[str]]:
    """Run the blocks one after another in one bash session, as a reader's terminal would
    (what one block sets, the next uses), stopping at the first command that fails."""
    script = ["set -eo pipefail"]
    for n, block in enumerate(to_run):
        path = scripts / f"block-{n}-line-{block.line}.sh"
        path.write_text(block.code + "\n")
        # On a line of its own even after output without a final newline (curl's JSON).
        script += [f"printf '\\n{_SENTINEL} {n}\\n'", f"source '{path}'"]
    script.append(f"printf '\\n{_SENTINEL} end\\n'")
    done = subprocess.run(
        ["bash", "-c", "\n".join(script)],  # bash from PATH, as a reader has it
        cwd=cwd,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    parts = re.split(rf"\n{_SENTINEL} (\S+)\n", done.stdout)
    outputs = dict(zip(parts[1::2], parts[2::2], strict=True))
    outcomes = [
        Outcome(block, outputs[str(n)]) for n, block in enumerate(to_run) if str(n) in outputs
    ]
    return outcomes, done
