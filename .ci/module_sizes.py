"""Fails when a module of the package is over 300 lines without saying why at its top (ARCHITECTURE.md).

The reason is a sentence in the module docstring that starts "Longer than 300 lines because".
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

LIMIT = 300
MARK = "Longer than 300 lines because"


def main() -> int:
    root = Path(__file__).resolve().parent.parent / "orchestrator"
    unexplained = []
    for path in sorted(root.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        lines = text.count("\n")
        if lines <= LIMIT:
            continue
        doc = ast.get_docstring(ast.parse(text)) or ""
        if MARK not in " ".join(doc.split()):
            unexplained.append(f"{path.relative_to(root.parent)}: {lines} lines, no '{MARK} ...' in its docstring")
    for line in unexplained:
        print(line)
    print(f"{len(unexplained)} module(s) over {LIMIT} lines without a reason")
    return 1 if unexplained else 0


if __name__ == "__main__":
    sys.exit(main())
