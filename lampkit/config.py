"""Typed, frozen stage configurations: one class gives a stage its presets, CLI flags and chapter parameters.

A stage's configuration is a frozen dataclass that also derives from :class:`StageConfig`. From the
class alone come

- its **presets** (:meth:`StageConfig.preset`): ``book`` (what the book runs on two CPU cores) and
  ``paper`` (every setting the paper states), each a set of field values over the dataclass defaults;
- its **command-line flags** (:meth:`StageConfig.add_arguments`, :meth:`StageConfig.from_args`):
  ``--{prefix}-{field}``, with each option's help, choices and the preset's default;
- its **chapter parameters** (:meth:`StageConfig.from_params`): ``{prefix}_{field}``, the same
  names with underscores; an unknown name or a bad value is a :class:`ConfigError` naming it and
  what is allowed;
- its part of an **artifact-cache key** (:meth:`StageConfig.key`).

A field whose type is itself a dataclass (``RopgSetup.training``) contributes its own fields to the
flags and parameters, under the outer prefix: the options are flat.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import types
import typing
from dataclasses import dataclass
from typing import Any, ClassVar, Iterator, Mapping, Sequence

__all__ = ["ConfigError", "Option", "StageConfig", "PRESETS", "unknown_message"]

PRESETS = ("book", "paper")


class ConfigError(ValueError):
    """A setting a user gave (a chapter parameter or a flag) that no configuration accepts."""


@dataclass(frozen=True)
class Option:
    """One flat option of a stage configuration."""

    name: str  # the field's name
    param: str  # the chapter parameter: {prefix}_{name}
    flag: str  # the command-line flag: --{prefix}-{name}
    kind: type  # int, float, str or bool
    optional: bool  # None is a value (spelled ``none_word`` on the command line)
    help: str
    choices: tuple | None
    none_word: str
    path: tuple[str, ...]  # field names from the outer configuration down to this option
    default: Any  # the dataclass default


def _kind(annotation: Any) -> tuple[type | None, bool]:
    """(base type, whether None is allowed) of a field annotation, or (None, False) for a nested config."""
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        rest = [a for a in args if a is not type(None)]
        return (rest[0] if len(rest) == 1 else str), type(None) in args
    return annotation, False


class StageConfig:
    """Base of the stage configurations (mix into a frozen dataclass).

    Class attributes a stage sets: ``PREFIX`` (``"ropg"``; ``""`` for the core settings), ``PRESET_VALUES``
    (preset name -> flat field values over the dataclass defaults), ``HELP`` (field -> help text),
    ``CHOICES`` (field -> allowed values), ``NONE_WORD`` (field -> how None is spelled on the command
    line, e.g. ``"all"`` for "every layer"), ``NOT_OPTIONS`` (fields that are no user setting).
    """

    PREFIX: ClassVar[str] = ""
    PRESET_VALUES: ClassVar[Mapping[str, Mapping[str, Any]]] = {"book": {}, "paper": {}}
    HELP: ClassVar[Mapping[str, str]] = {}
    CHOICES: ClassVar[Mapping[str, Sequence[Any]]] = {}
    NONE_WORD: ClassVar[Mapping[str, str]] = {}
    NOT_OPTIONS: ClassVar[frozenset[str]] = frozenset()

    # ----- the options --------------------------------------------------------------------
    @classmethod
    def options(cls) -> list[Option]:
        """Every flat option, in field order (nested configurations expanded in place)."""
        out: list[Option] = []
        for path, f, annotation, owner in _walk(cls, ()):
            kind, optional = _kind(annotation)
            name = f.name
            param = f"{cls.PREFIX}_{name}" if cls.PREFIX else name
            help_text = cls.HELP.get(name) or getattr(owner, "HELP", {}).get(name, "")
            out.append(Option(name, param, "--" + param.replace("_", "-"), kind, optional, help_text,
                              tuple(cls.CHOICES[name]) if name in cls.CHOICES else None,
                              cls.NONE_WORD.get(name, "none"), path, f.default))
        names = [o.name for o in out]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise TypeError(f"{cls.__name__}: option name(s) {dup} appear twice")
        return out

    @classmethod
    def params(cls) -> list[str]:
        """The chapter parameter names."""
        return [o.param for o in cls.options()]

    # ----- presets ------------------------------------------------------------------------
    @classmethod
    def preset(cls, name: str = "book", **changes: Any):
        """The configuration of preset ``name`` (``book`` or ``paper``), with ``changes`` (flat field names)."""
        if name not in cls.PRESET_VALUES:
            raise ConfigError(f"unknown preset {name!r} for {cls.__name__}; choose one of "
                              f"{', '.join(cls.PRESET_VALUES)}")
        return cls._build({**cls.PRESET_VALUES[name], **changes})

    @classmethod
    def _build(cls, flat: Mapping[str, Any]):
        by_name = {o.name: o for o in cls.options()}
        unknown = sorted(set(flat) - set(by_name))
        if unknown:
            raise ConfigError(f"{cls.__name__} has no setting {', '.join(unknown)}")
        return _assemble(cls, (), flat, by_name)

    def flat(self) -> dict[str, Any]:
        """Flat field name -> value."""
        out = {}
        for o in type(self).options():
            obj: Any = self
            for part in o.path:
                obj = getattr(obj, part)
            out[o.name] = obj
        return out

    def with_(self, **changes: Any):
        """A copy with ``changes``: the configuration's own fields, or the flat names of nested ones."""
        own = {f.name for f in dataclasses.fields(self)}  # type: ignore[arg-type]
        top = {k: v for k, v in changes.items() if k in own}
        nested = {k: v for k, v in changes.items() if k not in own}
        out = dataclasses.replace(self, **top) if top else self  # type: ignore[type-var]
        return type(self)._build({**out.flat(), **nested}) if nested else out

    def preset_name(self) -> str | None:
        """The preset this configuration equals, if any."""
        for name in self.PRESET_VALUES:
            if type(self).preset(name) == self:
                return name
        return None

    def key(self) -> dict[str, Any]:
        """The configuration as a plain mapping, for artifact-cache keys."""
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    # ----- chapter parameters -------------------------------------------------------------
    @classmethod
    def from_params(cls, params: Mapping[str, Any], preset: str = "book", where: str = "parameter"):
        """The configuration from chapter parameters (``{prefix}_{field}``) over ``preset``.

        Names that are not this configuration's parameters are an error; so are values of the wrong
        type or outside the choices. A chapter's parameters go through
        :func:`lampkit.chapters.chapter_run`, which splits them over its configurations first.
        """
        by_param = {o.param: o for o in cls.options()}
        flat = {}
        for param, value in params.items():
            if param not in by_param:
                raise ConfigError(unknown_message(param, list(by_param), where))
            o = by_param[param]
            flat[o.name] = _check_value(o, value, where)
        return cls.preset(preset, **flat)

    # ----- command line -------------------------------------------------------------------
    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser, preset: str = "book",
                      only: Sequence[str] | None = None) -> None:
        """One flag per option (``only``: these fields); the default shown is ``preset``'s (``--preset`` picks another)."""
        if only is not None:
            unknown = sorted(set(only) - {o.name for o in cls.options()})
            if unknown:
                raise TypeError(f"{cls.__name__} has no option {', '.join(unknown)}")
        base = cls.preset(preset).flat()
        group = parser.add_argument_group((cls.__doc__ or cls.__name__).strip().splitlines()[0].rstrip("."))
        paper = cls.preset("paper").flat() if "paper" in cls.PRESET_VALUES else base
        for o in cls.options():
            if only is not None and o.name not in only:
                continue
            shown = _spell(o, base[o.name])
            extra = f"; paper: {_spell(o, paper[o.name])}" if paper[o.name] != base[o.name] else ""
            help_text = f"{o.help} (default: {shown}{extra})" if o.help else f"(default: {shown}{extra})"
            kwargs: dict[str, Any] = {"dest": o.param, "default": argparse.SUPPRESS,
                                      "help": help_text.replace("%", "%%")}
            if o.kind is bool and not o.optional:
                kwargs["type"] = _parse_bool
                kwargs["metavar"] = "{true,false}"
            else:
                kwargs["type"] = _parser_for(o)
                if o.choices:
                    spelled = [_spell(o, c) for c in o.choices] + ([o.none_word] if o.optional else [])
                    kwargs["metavar"] = "{" + ",".join(spelled) + "}"
            group.add_argument(o.flag, **kwargs)

    @classmethod
    def from_args(cls, args: argparse.Namespace, preset: str | None = None):
        """The configuration from parsed flags over ``preset`` (default: ``args.preset``, else book)."""
        preset = preset or getattr(args, "preset", None) or "book"
        given = {o.name: getattr(args, o.param) for o in cls.options() if hasattr(args, o.param)}
        return cls.preset(preset, **given)


def _walk(cls: type, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], dataclasses.Field, Any, type]]:
    hints = typing.get_type_hints(cls)
    not_options = getattr(cls, "NOT_OPTIONS", frozenset())
    for f in dataclasses.fields(cls):
        if f.name in not_options:
            continue
        annotation = hints[f.name]
        if dataclasses.is_dataclass(annotation):
            yield from _walk(annotation, path + (f.name,))
        else:
            yield path + (f.name,), f, annotation, cls


def _assemble(cls: type, path: tuple[str, ...], flat: Mapping[str, Any], by_name: Mapping[str, Option]):
    hints = typing.get_type_hints(cls)
    values = {}
    for f in dataclasses.fields(cls):
        annotation = hints[f.name]
        if dataclasses.is_dataclass(annotation) and f.name not in getattr(cls, "NOT_OPTIONS", frozenset()):
            values[f.name] = _assemble(annotation, path + (f.name,), flat, by_name)
        elif f.name in flat and by_name.get(f.name) is not None and by_name[f.name].path == path + (f.name,):
            values[f.name] = flat[f.name]
    try:
        return cls(**values)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"{cls.__name__}: {err}") from None


def unknown_message(name: str, allowed: Sequence[str], where: str) -> str:
    """"unknown <where> <name> (did you mean ...?); allowed: ..." for a name no configuration takes."""
    close = difflib.get_close_matches(name, allowed, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown {where} {name!r}{hint}; allowed: {', '.join(allowed)}"


def _spell(o: Option, value: Any) -> str:
    return o.none_word if value is None else str(value).lower() if isinstance(value, bool) else str(value)


def _parse_bool(text: str) -> bool:
    if text.lower() in ("true", "yes", "1"):
        return True
    if text.lower() in ("false", "no", "0"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def _parser_for(o: Option):
    def parse(text: str):
        if o.optional and text == o.none_word:
            return None
        try:
            value = o.kind(text) if o.kind in (int, float, str) else text
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected {'an integer' if o.kind is int else 'a number'}"
                f"{' or ' + o.none_word if o.optional else ''}, got {text!r}") from None
        if o.choices and value not in o.choices:
            raise argparse.ArgumentTypeError(f"choose one of {', '.join(_spell(o, c) for c in o.choices)}, "
                                             f"not {text!r}")
        return value
    parse.__name__ = o.kind.__name__ if isinstance(o.kind, type) else "value"
    return parse


def _check_value(o: Option, value: Any, where: str) -> Any:
    if value is None:
        if o.optional:
            return None
        raise ConfigError(f"{where} {o.param!r} cannot be None")
    kind = o.kind
    ok = (isinstance(value, bool) if kind is bool else
          isinstance(value, int) and not isinstance(value, bool) if kind is int else
          isinstance(value, (int, float)) and not isinstance(value, bool) if kind is float else
          isinstance(value, str) if kind is str else True)
    if not ok:
        raise ConfigError(f"{where} {o.param!r} must be {kind.__name__}{' or None' if o.optional else ''}, "
                          f"got {value!r}")
    if kind is float:
        value = float(value)
    if o.choices and value not in o.choices:
        raise ConfigError(f"{where} {o.param!r} must be one of {', '.join(map(repr, o.choices))}, got {value!r}")
    return value
