"""json: apply transformers to paths inside JSON documents; every other string is redacted for PII."""

from __future__ import annotations

import json as _json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..base import STRING, USER, ColumnInfo, ParameterError, Transformer
from ..registry import get, register


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    paths: dict[str, str | dict[str, Any]] = Field(
        default_factory=dict,
        description="Dotted path (`contact.email`, `items.*.phone`) -> transformer name or {transformer: ...}.",
    )
    redact_rest: bool = Field(True, description="Run regex_redact over every other string value.")

    @field_validator("paths")
    @classmethod
    def _known(cls, paths):
        for rule in paths.values():
            name = rule if isinstance(rule, str) else rule.get("transformer", "")
            get(name)
        return paths


@register
class Json(Transformer):
    name = "json"
    description = ("Parse json/jsonb, apply a transformer at each configured path (`*` matches every array "
                   "element or key), redact e-mails/phones/cards/IPs in every other string, re-serialize; under "
                   "varchar(n) compact, rewritten strings cut to fit.")
    Params = Params
    accepts = frozenset(USER + STRING)
    partial = True
    min_width = 4  # under varchar(n): compact, rewritten strings cut; 'null' when nothing else fits

    def setup(self):
        self.rules = {}
        for path, rule in self.params.paths.items():
            name, params = (rule, {}) if isinstance(rule, str) else (
                rule["transformer"], {k: v for k, v in rule.items() if k != "transformer"})
            if name == "json":
                raise ParameterError("transformer 'json': a path cannot use the json transformer itself")
            self.rules[tuple(path.split("."))] = get(name)(params, self._key)
        self.redact = (get("regex_redact")(None, self._key, ColumnInfo(max_length=self.column.max_length))
                       if self.params.redact_rest else None)

    def __init__(self, params, key, column=None):
        self._key = key
        super().__init__(params, key, column)

    def _walk(self, node: Any, path: tuple[str, ...]) -> Any:
        if isinstance(node, dict):
            return {k: self._walk(v, path + (k,)) for k, v in node.items()}
        if isinstance(node, list):
            return [self._walk(v, path + ("*",)) for v in node]
        rule = self._rule(path)
        if rule is not None:
            if node is None:
                return None
            text = node if isinstance(node, str) else _json.dumps(node)
            out = rule.one(text)
            return out if isinstance(node, str) or out is None else _coerce(out, node)
        if isinstance(node, str) and self.redact is not None:
            return self.redact.one(node)
        return node

    def _rule(self, path: tuple[str, ...]):
        for pattern, rule in self.rules.items():
            if len(pattern) == len(path) and all(p in ("*", q) for p, q in zip(pattern, path)):
                return rule
        return None

    def one(self, value):
        try:
            doc = _json.loads(value)
        except ValueError:
            return self.redact.one(value) if self.redact else value
        walked = self._walk(doc, ())
        out = _json.dumps(walked, ensure_ascii=False, separators=(", ", ": "))
        limit = self.column.max_length
        return out if limit is None or len(out) <= limit else _fit(doc, walked, limit)


def _fit(doc: Any, walked: Any, limit: int) -> str:
    """A rewritten document longer than the column (varchar(n)): written compact; then the strings this
    transformer rewrote are cut, the longest first, until it fits; `null` when even that cannot fit (a path
    rule that wrote a longer number). Production text is never what fills the room."""
    box = [walked]  # a document that is one string is cut like the strings inside one
    out = _json.dumps(walked, ensure_ascii=False, separators=(",", ":"))
    leaves = _rewritten([doc], box, [])
    while len(out) > limit and leaves:
        leaves.sort(key=lambda ref: len(ref[0][ref[1]]))
        holder, key = leaves[-1]
        text = holder[key]
        holder[key] = text[: max(0, len(text) - (len(out) - limit))]
        if not holder[key]:
            leaves.pop()
        out = _json.dumps(box[0], ensure_ascii=False, separators=(",", ":"))
    return out if len(out) <= limit else "null"


def _rewritten(doc: Any, walked: Any, found: list) -> list:
    """(container, key) of every string of `walked` that differs from `doc` at the same place."""
    pairs = (walked.items() if isinstance(walked, dict) else enumerate(walked) if isinstance(walked, list) else ())
    for key, new in pairs:
        old = doc.get(key) if isinstance(doc, dict) else doc[key] if isinstance(doc, list) else None
        if isinstance(new, str) and new != old and new:
            found.append((walked, key))
        elif isinstance(new, (dict, list)):
            _rewritten(old, new, found)
    return found


def _coerce(text: str, like: Any) -> Any:
    try:
        return _json.loads(text) if not isinstance(like, str) else text
    except ValueError:
        return text
