"""`prodlike config check`: everything that can be judged without connecting, beyond the model's own validation:
transformer names and parameters, threshold levels in order, every `${ENV}` reference set, FK columns whose rule
differs from their key's (where init's notes record the key); with --connect, the policy against production's
catalog (every foreign key, every column)."""

from __future__ import annotations

import difflib

from pydantic import BaseModel, ValidationError

from prodlike.anonymizers import registry as transformers
from prodlike.pipelines.config import foreign_keys, secrets
from prodlike.pipelines.config.model import Config, Levels


def offline_problems(cfg: Config, text: str = "") -> list[str]:
    """Every problem found, each naming its key and the fix (empty: nothing to fix); text is the config file's,
    whose comments may record foreign keys (init's notes)."""
    fk_problems, _ = foreign_keys.mismatches(text, cfg)
    return _rule_problems(cfg) + fk_problems + _threshold_problems(cfg) + _unset_variables(cfg)


def catalog_problems(cfg: Config) -> list[str]:
    """The policy against production's catalog (read only, no data): every FK column's rule against its key's,
    columns that do not exist, columns left unclassified; the anonymization key is not needed."""
    from prodlike.anonymizers import policy as anon_policy
    from prodlike.pipelines.engine.preflight import select_tables
    from prodlike.pipelines.engine.refresh import config_rules, shapes
    from prodlike.pipelines.postgres import connections
    from prodlike.pipelines.postgres.catalog import read_catalog

    with connections.production(cfg.source.resolve("source"), cfg.copy_.lock_timeout) as conn:
        cat = read_catalog(conn, cfg.schemas)
    listed = [q for q in select_tables(cfg, cat).copied if q in cfg.anonymization.tables]
    try:
        anon_policy.build(config_rules(cfg), shapes(cat, listed), b"\0" * 32, listed)
    except anon_policy.PolicyError as err:
        return list(err.problems)
    return []


def _rule_problems(cfg: Config) -> list[str]:
    problems = []
    for table, policy in cfg.anonymization.tables.items():
        for column, rule in policy.columns.items():
            key = f"anonymization.tables.{table}.columns.{column}"
            try:
                cls = transformers.get(rule.transformer)
            except transformers.UnknownTransformerError as err:
                problems.append(f"{key}: {err}")
                continue
            problems += [f"{key}: {p}" for p in _param_problems(cls.name, cls.Params, rule.params)]
    return problems


def _param_problems(name: str, params_model: type[BaseModel], params: dict) -> list[str]:
    try:
        params_model.model_validate(params)
    except ValidationError as err:
        out = []
        for e in err.errors():
            where = ".".join(str(p) for p in e["loc"]) or "params"
            if e["type"] == "extra_forbidden":
                known = list(params_model.model_fields)
                close = difflib.get_close_matches(str(e["loc"][-1]), known, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                out.append(f"transformer {name!r} has no parameter {where!r}{hint} (parameters: "
                           f"{', '.join(known) or 'none'})")
            else:
                out.append(f"transformer {name!r} parameter {where}: {e['msg'].removeprefix('Value error, ')}")
        return out
    return []


def _thresholds(cfg: Config) -> list[tuple[str, Levels]]:
    """(key path, threshold) of every threshold the config sets, defaults and overrides."""
    found = []
    for name, value in cfg.thresholds:
        if isinstance(value, Levels):
            found.append((f"thresholds.{name}", value))
    for table, override in cfg.thresholds.tables.items():
        layers = [(f"thresholds.tables.{table}", override)]
        layers += [(f"thresholds.tables.{table}.columns.{c}", o) for c, o in override.columns.items()]
        for prefix, layer in layers:
            found += [(f"{prefix}.{name}", value) for name, value in layer if isinstance(value, Levels)]
    return found


def _threshold_problems(cfg: Config) -> list[str]:
    return [f"{key}: warn ({t.warn:g}) is above error ({t.error:g}); a divergence would fail before it warns: "
            f"set warn below error" for key, t in _thresholds(cfg)
            if t.warn is not None and t.error is not None and t.warn > t.error]


def _references(cfg: Config) -> list[tuple[str, str]]:
    """(key path, `${VAR}` reference) of every secret or other value the config reads from the environment."""
    refs = [("source.dsn", cfg.source.dsn), ("target.dsn", cfg.target.dsn)]
    if cfg.anonymization.key:
        refs.append(("anonymization.key", cfg.anonymization.key))
    for i, c in enumerate(cfg.alerts.slack):
        refs.append((f"alerts.slack[{i}].url", c.url))
    for i, c in enumerate(cfg.alerts.pagerduty):
        refs.append((f"alerts.pagerduty[{i}].routing_key", c.routing_key))
    for i, c in enumerate(cfg.alerts.webhook):
        refs.append((f"alerts.webhook[{i}].url", c.url))
        if c.secret:
            refs.append((f"alerts.webhook[{i}].secret", c.secret))
    return [(key, ref) for key, ref in refs if secrets.env_name(ref)]


def _unset_variables(cfg: Config) -> list[str]:
    return [f"{key}: environment variable {name} is not set (the config reads it as ${{{name}}}); export {name}=... "
            f"or correct the name" for key, ref in _references(cfg) if (name := secrets.unset(ref))]
