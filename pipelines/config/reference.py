"""The README's config and transformer references, generated from the pydantic model and the transformer
registry (`python -m prodlike.pipelines.readme README.md` rewrites them; a test keeps them equal)."""

from __future__ import annotations

import typing

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from prodlike.anonymizers import registry
from prodlike.pipelines.config.model import Config, format_duration

START, END = "<!-- config-reference:start -->", "<!-- config-reference:end -->"
T_START, T_END = "<!-- transformer-reference:start -->", "<!-- transformer-reference:end -->"


def _type_name(annotation) -> str:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _type_name(typing.get_args(annotation)[0])
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        return " or ".join(_type_name(a) for a in typing.get_args(annotation) if a is not type(None))
    if origin is typing.Literal:
        return " | ".join(repr(a) for a in typing.get_args(annotation))
    if origin in (list, dict):
        return f"{origin.__name__}[{', '.join(_type_name(a) for a in typing.get_args(annotation))}]"
    name = getattr(annotation, "__name__", str(annotation))
    return {"timedelta": "duration", "str": "string", "int": "integer", "float": "number", "bool": "boolean"}.get(
        name, name)


def _param_default(field) -> str:
    """A transformer parameter's default as the table shows it (`{}` for a factory, `required` for none)."""
    if field.is_required():
        return "required"
    return repr(field.default if field.default is not PydanticUndefined else field.default_factory())


def _default(field) -> str:
    if field.is_required():
        return "required"
    value = field.default if field.default is not PydanticUndefined else field.default_factory()
    if isinstance(value, BaseModel):
        return "see below"
    if hasattr(value, "total_seconds"):
        return f"`{format_duration(value)}`"
    return f"`{value!r}`".replace("|", "\\|")


def _rows(model: type[BaseModel], prefix: str = "") -> list[str]:
    rows, nested = [], []
    for name, field in model.model_fields.items():
        key = prefix + (field.alias or name)
        inner = typing.get_args(field.annotation) or (field.annotation,)
        sub = next((a for a in inner if isinstance(a, type) and issubclass(a, BaseModel)), None)
        desc = (field.description or "").replace("|", "\\|")
        rows.append(f"| `{key}` | {_type_name(field.annotation).replace('|', chr(92) + '|')} | {_default(field)} "
                    f"| {desc} |")
        if sub is not None and typing.get_origin(field.annotation) not in (dict, list):
            nested.append((sub, key + "."))
    for sub, p in nested:
        rows += _rows(sub, p)
    return rows


def reference() -> str:
    head = ["| key | type | default | meaning |", "|---|---|---|---|"]
    return "\n".join([START, *head, *_rows(Config), END])


def transformer_reference() -> str:
    """One row per registered transformer: parameters with defaults, accepted types, guarantees."""
    categories = {"S": "text", "N": "numeric", "D": "date/time", "I": "inet", "U": "json"}
    rows = [T_START, "| transformer | what it does | parameters (default) | column types | unique-safe | "
            "identifier | chance output = input |", "|---|---|---|---|---|---|---|"]
    for name in registry.names():
        cls = registry.get(name)
        params = ", ".join(f"`{k}` ({_param_default(f)})" for k, f in cls.Params.model_fields.items()) or "-"
        types = "any" if len(cls.accepts) > 6 else ", ".join(categories.get(c, c) for c in sorted(cls.accepts))
        rows.append(f"| `{name}` | {cls.description.replace('|', '/')} | {params.replace('|', '/')} | {types} | "
                    f"{'yes' if cls.injective else 'no'} | {'yes' if cls.identifier else 'no'} | {cls.chance_rate:g} |")
    return "\n".join(rows + [T_END])
