"""Options declared once, on the config dataclasses, and derived everywhere else.

A config field made with :func:`option` carries its help text, unit, bounds and choices; the CLI's
flags (``--max-side``; ``--tracking.detect-every`` for the advanced ones), the service's job options
(pydantic fields with the same bounds) and its settings (``NVWA_*``) are built from those fields, so a
default, a bound or a choice list is written in one place. Choices come from the registries (body
models, trackers, smoothing presets, export formats).
"""

from __future__ import annotations

import argparse
import functools
import inspect
import re
import typing
from dataclasses import MISSING, dataclass, field, fields, is_dataclass, replace
from typing import Any, Callable, Iterator

NUMBER_TYPES = (int, float)


def option(default: Any = MISSING, help: str = "", *, unit: str = "", ge: float | None = None, gt: float | None = None,
           le: float | None = None, choices: tuple | Callable[[], tuple] | None = None, flag: str | None = None,
           job: bool = False, setting: str | None = None, default_factory: Any = MISSING):
    """A config field with what the CLI, the service and the docs need to know about it.

    ``flag``: a short CLI flag (``"--focal"``; ``""`` for ``--<field-name>``); without one the flag is
    ``--<section>.<field-name>``. ``job``: the service's jobs accept it (bounded by ``ge``/``gt``/``le``).
    ``setting``: the name of the service setting (``NVWA_<NAME>``) that sets it for every job."""
    meta = {"help": help, "unit": unit, "ge": ge, "gt": gt, "le": le, "choices": choices, "flag": flag,
            "job": job, "setting": setting}
    if default_factory is not MISSING:
        return field(default_factory=default_factory, metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class Leaf:
    """One option of a config tree: ``path`` ("reconstruct.focal_px"), its type, default and metadata."""

    path: str
    type: Any
    default: Any
    meta: dict

    @property
    def name(self) -> str:
        return self.path.rsplit(".", 1)[-1]

    @property
    def choices(self) -> tuple | None:
        c = self.meta.get("choices")
        return tuple(c()) if callable(c) else (tuple(c) if c is not None else None)

    @property
    def base_type(self) -> type:
        """int, float, str or bool (Optional[...] unwrapped)."""
        args = [a for a in typing.get_args(self.type) if a is not type(None)]
        return args[0] if args else self.type

    @property
    def flags(self) -> list[str]:
        flag = self.meta.get("flag")
        dashed = self.name.replace("_", "-")
        if flag is None:
            return ["--" + self.path.replace("_", "-")]
        return [flag or "--" + dashed]

    def describe(self) -> str:
        m = self.meta
        text = m.get("help") or m.get("comment") or ""
        unit = f" {m['unit']}" if m.get("unit") else ""
        default = "" if self.default is None else f" (default {self.default}{unit})"
        return (text + default).strip()


_COMMENT = re.compile(r"^\s+(\w+)\s*:[^#]*#\s*(.+)$")


@functools.cache
def field_comments(config_type: type) -> dict[str, str]:
    """The ``# comment`` after each field of a config dataclass (where its unit and meaning are written):
    the help text of options declared as plain fields."""
    try:
        lines = inspect.getsource(config_type).splitlines()
    except (OSError, TypeError):
        return {}
    return {m.group(1): m.group(2).strip() for m in map(_COMMENT.match, lines) if m}


def leaves(config_type: type, prefix: str = "") -> Iterator[Leaf]:
    """Every option of a config dataclass tree, depth first, sections by their field names (a field
    with ``metadata={"hidden": True}`` is set by code, not by users)."""
    hints = typing.get_type_hints(config_type)
    for f in fields(config_type):
        t = hints[f.name]
        path = f"{prefix}{f.name}"
        if is_dataclass(t):
            yield from leaves(t, path + ".")
        elif f.init and not f.metadata.get("hidden"):
            default = f.default if f.default is not MISSING else (f.default_factory() if f.default_factory is not MISSING else None)
            yield Leaf(path, t, default, {"comment": field_comments(config_type).get(f.name, ""), **f.metadata})


def build(config_type: type, values: dict[str, Any], base: Any = None) -> Any:
    """The config tree with ``values`` ({"reconstruct.focal_px": 800, ...}) set over ``base`` (default:
    the dataclass defaults). Unknown paths are an error (a typo must not pass silently)."""
    config = base if base is not None else config_type()
    known = {leaf.path for leaf in leaves(config_type)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise KeyError(f"unknown option(s) {', '.join(unknown)}")
    for path, value in values.items():
        config = _set(config, path.split("."), value)
    return config


def _set(node: Any, parts: list[str], value: Any) -> Any:
    if len(parts) == 1:
        return replace(node, **{parts[0]: value})
    return replace(node, **{parts[0]: _set(getattr(node, parts[0]), parts[1:], value)})


def flatten(config: Any) -> dict[str, Any]:
    """{path: value} of every option of a config tree (for records and events)."""
    out = {}
    for leaf in leaves(type(config)):
        node = config
        for part in leaf.path.split("."):
            node = getattr(node, part)
        out[leaf.path] = node
    return out


# -- the CLI ------------------------------------------------------------------------------------------

def add_arguments(parser: argparse.ArgumentParser, config_type: type, section: str = "", advanced: bool = True) -> None:
    """One flag per option of the tree (or of its ``section``): typed, bounded, choices from the
    registries; flags left out keep the config's defaults. ``advanced=False``: only those with a short flag."""
    group = None
    for leaf in leaves(config_type):
        if section and not leaf.path.startswith(section + "."):
            continue
        if leaf.meta.get("flag") is None and not advanced:
            continue
        target = parser
        if leaf.meta.get("flag") is None:
            group = group or parser.add_argument_group("advanced options (one per config field)")
            target = group
        # argparse formats help with %: a "5%" in a help text would break --help
        kw: dict[str, Any] = {"dest": leaf.path, "default": argparse.SUPPRESS, "help": leaf.describe().replace("%", "%%")}
        if leaf.base_type is bool:
            kw["action"] = argparse.BooleanOptionalAction
        else:
            kw["type"] = _parser_for(leaf)
            if leaf.choices:
                kw["choices"] = list(leaf.choices)
            kw["metavar"] = None if leaf.choices else leaf.base_type.__name__.upper()
        target.add_argument(*leaf.flags, **kw)


def _parser_for(leaf: Leaf) -> Callable[[str], Any]:
    base = leaf.base_type
    m = leaf.meta

    def parse(text: str):
        try:
            value = base(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {'an' if base is int else 'a'} {base.__name__}") from None
        if base in NUMBER_TYPES:
            if value != value or value in (float("inf"), float("-inf")):
                raise argparse.ArgumentTypeError(f"{text!r}: must be a finite number")
            bounds = [(m.get("ge"), lambda v, b: v >= b, ">="), (m.get("gt"), lambda v, b: v > b, ">"),
                      (m.get("le"), lambda v, b: v <= b, "<=")]
            for bound, ok, sign in bounds:
                if bound is not None and not ok(value, bound):
                    raise argparse.ArgumentTypeError(f"{text}: must be {sign} {bound:g}")
        return value
    parse.__name__ = base.__name__
    return parse


def from_arguments(config_type: type, args: argparse.Namespace, base: Any = None) -> Any:
    """The config tree with the flags given on the command line set."""
    known = {leaf.path for leaf in leaves(config_type)}
    return build(config_type, {k: v for k, v in vars(args).items() if k in known}, base)


# -- the service ----------------------------------------------------------------------------------------

def pydantic_fields(config_type: type, *, select: Callable[[Leaf], bool], name: Callable[[Leaf], str],
                    optional: bool = False) -> dict[str, tuple]:
    """pydantic field definitions ({name: (type, Field)}) for the options ``select`` picks: the same
    type, bounds, choices (as a ``Literal``) and help as the CLI. ``optional``: every field may be None
    (None: "as before")."""
    from pydantic import Field

    out = {}
    for leaf in leaves(config_type):
        if not select(leaf):
            continue
        m = leaf.meta
        t = typing.Literal[leaf.choices] if leaf.choices else leaf.type
        if optional:
            t = t | None
        bounds = {k: m[k] for k in ("ge", "gt", "le") if m.get(k) is not None}
        desc = (m.get("help") or "") + (f" ({m['unit']})" if m.get("unit") else "")
        out[name(leaf)] = (t, Field(None if optional else leaf.default, description=desc, **bounds))
    return out


def job_fields(config_type: type, section: str = "", optional: bool = False) -> dict[str, tuple]:
    """The options a job accepts (``option(job=True)``), named by their field names."""
    return pydantic_fields(config_type, select=lambda leaf: leaf.meta.get("job") and leaf.path.startswith(section),
                           name=lambda leaf: leaf.name, optional=optional)


def job_values(config_type: type, options: Any) -> dict[str, Any]:
    """{path: value} of the job options set on ``options`` (a pydantic model built from job_fields);
    None on an optional field means "keep"."""
    out = {}
    for leaf in leaves(config_type):
        if leaf.meta.get("job") and leaf.name in type(options).model_fields:
            value = getattr(options, leaf.name)
            if value is not None or leaf.default is None:
                out[leaf.path] = value
    return out


def setting_fields(config_type: type) -> dict[str, tuple]:
    """The options a service setting sets for every job (``option(setting=NAME)``)."""
    return pydantic_fields(config_type, select=lambda leaf: bool(leaf.meta.get("setting")),
                           name=lambda leaf: leaf.meta["setting"])


def setting_values(config_type: type, settings: Any) -> dict[str, Any]:
    return {leaf.path: getattr(settings, leaf.meta["setting"]) for leaf in leaves(config_type) if leaf.meta.get("setting")}


__all__ = ["option", "Leaf", "leaves", "build", "flatten", "add_arguments", "from_arguments", "job_fields",
           "job_values", "setting_fields", "setting_values"]
