"""The prediction record and its properties: the numbers the defect predictor gives for one configuration
(one class, used by the predictor, the bridge, screening, the app and the CLI; re-exported by
``hypofinder.models``), and the ONE description of each predicted property (``PropertySpec``) that every
reader of those numbers asks: the question words, unit, display format, trend resolution, the hosts whose
data carry it and its labels.

Adding a property: one ``_target(...)`` field (plus its ``_std``) on ``PropertyPrediction``, then retrain.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, WithJsonSchema, model_validator


@dataclass(frozen=True)
class PropertySpec:
    """One predicted property, as every reader after the predictor needs it."""

    name: str  # the field of PropertyPrediction (its uncertainty: name + "_std")
    title: str  # in sentences: "HOMO-LUMO gap"
    short: str  # table headers: "Gap"
    unit: str  # "eV", "μB"
    words: str  # regular expression (case-insensitive) naming it in a question or a hypothesis
    columns: tuple[str, ...] = ()  # 2DMD targets.csv columns, in order of preference
    fmt: str = ".2f"  # a value in sentences, in its unit
    resolution: float = 0.02  # smallest fitted change over the sampled range that counts as a trend (unit)
    no_change: float = 0.1  # 'no change' holds when a change this large would have been resolved (unit)
    hosts: tuple[str, ...] | None = None  # hosts whose training data carry it (None: every host)
    doc: str = ""

    @property
    def label(self) -> str:
        """Axis and table label: 'HOMO-LUMO gap (eV)'."""
        return f"{self.title[:1].upper()}{self.title[1:]} ({self.unit})"

    def header(self, uncertainty: bool = False) -> str:
        """Table header: 'Gap (eV)', or 'Gap ± (eV)' for the uncertainty column."""
        return f"{self.short}{' ±' if uncertainty else ''} ({self.unit})"

    def value(self, x: float | None, std: float | None = None, unit: bool = True, fmt: str | None = None) -> str:
        """'1.23 ± 0.04 eV' ('—' for None); ``fmt`` overrides the property's format (e.g. '.3f' in tables)."""
        if x is None:
            return "—"
        f = fmt or self.fmt
        pm = f" ± {std:{f}}" if std is not None else ""
        return f"{x:{f}}{pm}{' ' + self.unit if unit else ''}"

    def carried_by(self, host: str | None) -> bool:
        """Does this host's training data carry the property (magnetization: spin-polarised hosts only)?"""
        return self.hosts is None or host is None or host in self.hosts

    def of(self, record) -> tuple[float | None, float | None]:
        """(value, uncertainty) of this property on a prediction record (None when not predicted)."""
        return getattr(record, self.name, None), getattr(record, self.name + "_std", None)


def _target(
    title: str,
    short: str,
    unit: str,
    columns: tuple[str, ...],
    doc: str,
    words: str,
    resolution: float = PropertySpec.resolution,
    no_change: float = PropertySpec.no_change,
    fmt: str = PropertySpec.fmt,
    hosts: tuple[str, ...] | None = None,
):
    """A predicted property field: everything ``PropertySpec`` holds, in the field's schema."""
    spec = {"unit": unit, "short": short, "target": True, "columns": list(columns), "words": words}
    spec |= {"resolution": resolution, "no_change": no_change, "fmt": fmt, "hosts": list(hosts) if hosts else None}
    return Field(default=None, title=title, description=f"{unit}; {doc}", json_schema_extra=spec)


def _uncertainty(unit: str):
    return Field(default=None, ge=0, description=f"{unit}; uncertainty (1σ): calibrated on held-out errors")


SPIN_POLARISED = ("BN", "GaSe", "InSe", "P")  # 2DMD hosts computed with spin polarisation


class PropertyPrediction(BaseModel):
    """The predicted properties of one defect configuration, each with its uncertainty (1σ), and
    whether the configuration lies inside the predictor's training domain.

    The ONE record of predicted numbers: the predictor, the bridge, screening, the app and the CLI
    use it (or a subclass that adds a label, tokens, sites, a file name). A property is a value
    field made with ``_target`` plus its ``<name>_std``; ``targets()`` lists them. ``None``: not
    predicted (failed input, or a host whose data carry no such information, e.g. magnetization of
    MoS2/WSe2, computed without spin polarisation in 2DMD).
    """

    formation_energy_per_site: float | None = _target(
        "formation energy per site",
        "E_f/site",
        "eV",
        ("formation_energy_per_site",),
        "formation energy / number of defects",
        words=r"formation\s+energ|stabili|\bstable\b|energetic|energy\s+cost|thermodynamic|favou?rabl|"
        r"form(?:s|ed)?\s+(?:more\s+)?easil|likely\s+to\s+form|binding|\bcost|prefer",
    )
    formation_energy_per_site_std: float | None = _uncertainty("eV")
    homo_lumo_gap: float | None = _target(
        "HOMO-LUMO gap",
        "Gap",
        "eV",
        ("homo_lumo_gap_min", "homo_lumo_gap"),
        "the smaller of the two spin channels' gaps",
        words=r"\bgaps?\b|homo[\s–-]*lumo|electronic\s+structure|semiconduct|metallic|optical|absorption|"
        r"photolumin|conductiv",
    )
    homo_lumo_gap_std: float | None = _uncertainty("eV")
    homo: float | None = _target(
        "HOMO level",
        "HOMO",
        "eV",
        ("normalized_homo", "normalized_homo_max"),
        "highest occupied level (of both spin "
        "channels) above the pristine host's valence-band maximum, aligned by the core-level shift",
        words=r"\bhomo\b|valence[\s-]+band|band[\s-]+edges?|defect\s+levels?|mid-?gap|in-?gap|"
        r"(?<!un)occupied\s+(?:defect\s+)?(?:levels?|states?)|donor\s+levels?|work\s+function|ioni[sz]ation",
    )
    homo_std: float | None = _uncertainty("eV")
    lumo: float | None = _target(
        "LUMO level",
        "LUMO",
        "eV",
        ("normalized_lumo", "normalized_lumo_min"),
        "lowest unoccupied level (of both spin "
        "channels) above the pristine host's valence-band maximum, aligned by the core-level shift",
        words=r"\blumo\b|conduction[\s-]+band|unoccupied|acceptor\s+levels?|electron\s+affinity",
    )
    lumo_std: float | None = _uncertainty("eV")
    magnetization: float | None = _target(
        "total magnetization",
        "Magnetization",
        "μB",
        ("total_mag",),
        "per supercell; only hosts computed spin-polarised (h-BN, "
        "GaSe, InSe, black P): None for MoS2/WSe2, whose 2DMD data carry no magnetic information",
        words=r"magneti|spin[\s-]+polari|\bspins?\b|\bmoments?\b",
        resolution=0.1,  # μB: a tenth of one unpaired spin
        no_change=0.5,  # μB: half an unpaired spin would have been resolved
        hosts=SPIN_POLARISED,
    )
    magnetization_std: float | None = _uncertainty("μB")
    in_domain: bool = False
    domain_notes: list[str] = Field(default_factory=list, description="Why the input is outside the training domain")

    # A property registered beyond the fields above (a scratch registry, see ``scratch_registry``) travels as an
    # extra field; any other extra key is refused.
    model_config = ConfigDict(extra="allow")

    @model_validator(mode="after")
    def _registered_extras(self):
        names = registry().names()
        for k in self.model_extra or {}:
            if k.removesuffix("_std") not in names:
                raise ValueError(f"unknown property {k!r}: use one of {', '.join(names)}")
        return self

    @classmethod
    def targets(cls) -> tuple[str, ...]:
        """The properties the predictor is trained on (the fields above), in declaration order."""
        return tuple(k for k, f in PropertyPrediction.model_fields.items() if (f.json_schema_extra or {}).get("target"))

    @classmethod
    def title(cls, target: str) -> str:
        return spec(target).title

    @classmethod
    def unit(cls, target: str) -> str:
        return spec(target).unit

    @classmethod
    def header(cls, target: str, uncertainty: bool = False) -> str:
        """Table header: 'Gap (eV)', or 'Gap ± (eV)' for the uncertainty column."""
        return spec(target).header(uncertainty)

    @classmethod
    def columns(cls, target: str) -> list[str]:
        """2DMD ``targets.csv`` columns of ``target``, in order of preference."""
        return list(spec(target).columns)

    def properties(self) -> dict:
        """The record's own fields (values, uncertainties, domain, registered extras), to build a subclass from it."""
        return {k: getattr(self, k) for k in PropertyPrediction.model_fields} | (self.model_extra or {})

    @classmethod
    def fields_from(cls, arrays: dict, i: int) -> dict:
        """Field values of row ``i`` of the predictor's arrays (``<target>``, ``<target>_std``,
        ``in_domain``); NaN or absent -> None."""
        out: dict = {}
        for t in cls.targets():
            for k in (t, t + "_std"):
                a = arrays.get(k)
                v = None if a is None else float(a[i])
                out[k] = None if v is None or math.isnan(v) else v
        if "in_domain" in arrays:
            out["in_domain"] = bool(arrays["in_domain"][i])
        return out


# --------------------------------------------------------------------------- the registry of properties
class PropertyRegistry:
    """The properties every reader after the predictor knows, in order (the first: the default companion)."""

    def __init__(self, specs: list[PropertySpec]):
        self._specs = {s.name: s for s in specs}

    def add(self, s: PropertySpec) -> PropertySpec:
        self._specs[s.name] = s
        return s

    def names(self) -> tuple[str, ...]:
        return tuple(self._specs)

    def __iter__(self) -> Iterator[PropertySpec]:
        return iter(self._specs.values())

    def __contains__(self, name: object) -> bool:
        return name in self._specs

    def __getitem__(self, name: str) -> PropertySpec:
        try:
            return self._specs[name]
        except KeyError:
            raise KeyError(f"unknown property {name!r}: use one of {', '.join(self._specs)}") from None

    def named_in(self, text: str) -> PropertySpec | None:
        """The property a text names first (the longest words at the same place), or None."""
        hits = [(m.start(), -len(m.group(0)), i) for i, s in enumerate(self) if (m := re.search(s.words, text, re.I))]
        return list(self)[min(hits)[2]] if hits else None

    def describe(self, record, names: tuple[str, ...] | None = None, fmt: str | None = None) -> str:
        """'Gap 1.23 ± 0.04 eV, E_f/site 0.51 ± 0.02 eV': the record's predicted properties (``names``, in that
        order, else all), those it has a value for."""
        out = []
        for s in (self[n] for n in names) if names else self:
            x, std = s.of(record)
            if x is not None:
                out.append(f"{s.short} {s.value(x, std, fmt=fmt)}")
        return ", ".join(out)

    def companion(self, name: str, host: str | None = None) -> PropertySpec:
        """The property shown beside ``name`` in a fact: the first other one the host carries."""
        return next(s for s in self if s.name != name and s.carried_by(host))


def _spec_of(name: str) -> PropertySpec:
    f = PropertyPrediction.model_fields[name]
    x = dict(f.json_schema_extra)
    hosts = x.pop("hosts")
    return PropertySpec(
        name=name,
        title=f.title or name,
        short=x.pop("short"),
        unit=x.pop("unit"),
        words=x.pop("words"),
        columns=tuple(x.pop("columns")),
        fmt=x.pop("fmt"),
        resolution=x.pop("resolution"),
        no_change=x.pop("no_change"),
        hosts=tuple(hosts) if hosts else None,
        doc=(f.description or "").split("; ", 1)[-1],
    )


DEFAULT_REGISTRY = PropertyRegistry([_spec_of(t) for t in PropertyPrediction.targets()])
_active = [DEFAULT_REGISTRY]  # process-wide (the pipeline's worker threads see a scratch registry too)


def registry() -> PropertyRegistry:
    """The active registry (the predictor's properties, unless a test made a scratch one)."""
    return _active[-1]


def spec(name: str) -> PropertySpec:
    return registry()[name]


@contextmanager
def scratch_registry() -> Iterator[PropertyRegistry]:
    """A copy of the active registry, active (process-wide) inside the block: register a property in it (tests)."""
    _active.append(PropertyRegistry(list(registry())))
    try:
        yield _active[-1]
    finally:
        _active.pop()


def _registered(name: str) -> str:
    if name not in registry():
        raise ValueError(f"unknown property {name!r}: use one of {', '.join(registry().names())}")
    return name


Target = Annotated[
    str,
    AfterValidator(_registered),
    WithJsonSchema({"type": "string", "enum": list(PropertyPrediction.targets())}),
]  # a registered property's name; the schema (LLM decoding) lists the predictor's properties
