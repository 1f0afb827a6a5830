"""Rewrites the README's generated references (config keys, transformers, checks):
`python -m prodlike.pipelines.readme README.md`; tests keep them equal to the code."""

from __future__ import annotations

import sys
from pathlib import Path

from prodlike.pipelines.checks import registry
from prodlike.pipelines.config import reference


def _replace(text: str, start_marker: str, end_marker: str, body: str) -> str:
    start, end = text.index(start_marker), text.index(end_marker) + len(end_marker)
    return text[:start] + body + text[end:]


def write(readme: Path) -> bool:
    """Replace the generated references in readme; True when it changed."""
    text = readme.read_text()
    new = _replace(text, reference.START, reference.END, reference.reference())
    new = _replace(new, reference.T_START, reference.T_END, reference.transformer_reference())
    new = _replace(new, registry.START, registry.END, registry.reference())
    if new != text:
        readme.write_text(new)
    return new != text


if __name__ == "__main__":
    changed = write(Path(sys.argv[1] if len(sys.argv) > 1 else "README.md"))
    print("README.md references", "updated" if changed else "up to date")
