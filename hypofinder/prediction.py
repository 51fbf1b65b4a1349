"""The prediction record: the numbers the defect predictor gives for one configuration (one class, used by
the predictor, the bridge, screening, the app and the CLI; re-exported by ``hypofinder.models``)."""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, Field


def _target(title: str, short: str, unit: str, columns: tuple[str, ...], doc: str):
    """A predicted property: title, short label (table headers), unit and its 2DMD ``targets.csv``
    columns (the first one a subset has)."""
    return Field(
        default=None,
        title=title,
        description=f"{unit}; {doc}",
        json_schema_extra={"unit": unit, "short": short, "target": True, "columns": list(columns)},
    )


def _uncertainty(unit: str):
    return Field(default=None, ge=0, description=f"{unit}; uncertainty (1σ): calibrated on held-out errors")


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
    )
    formation_energy_per_site_std: float | None = _uncertainty("eV")
    homo_lumo_gap: float | None = _target(
        "HOMO-LUMO gap",
        "Gap",
        "eV",
        ("homo_lumo_gap_min", "homo_lumo_gap"),
        "the smaller of the two spin channels' gaps",
    )
    homo_lumo_gap_std: float | None = _uncertainty("eV")
    homo: float | None = _target(
        "HOMO level",
        "HOMO",
        "eV",
        ("normalized_homo", "normalized_homo_max"),
        "highest occupied level (of both spin "
        "channels) above the pristine host's valence-band maximum, aligned by the core-level shift",
    )
    homo_std: float | None = _uncertainty("eV")
    lumo: float | None = _target(
        "LUMO level",
        "LUMO",
        "eV",
        ("normalized_lumo", "normalized_lumo_min"),
        "lowest unoccupied level (of both spin "
        "channels) above the pristine host's valence-band maximum, aligned by the core-level shift",
    )
    lumo_std: float | None = _uncertainty("eV")
    magnetization: float | None = _target(
        "total magnetization",
        "Magnetization",
        "μB",
        ("total_mag",),
        "per supercell; only hosts computed spin-polarised (h-BN, "
        "GaSe, InSe, black P): None for MoS2/WSe2, whose 2DMD data carry no magnetic information",
    )
    magnetization_std: float | None = _uncertainty("μB")
    in_domain: bool = False
    domain_notes: list[str] = Field(default_factory=list, description="Why the input is outside the training domain")

    @classmethod
    def targets(cls) -> tuple[str, ...]:
        """The predicted properties, in declaration order."""
        return tuple(k for k, f in PropertyPrediction.model_fields.items() if (f.json_schema_extra or {}).get("target"))

    @classmethod
    def title(cls, target: str) -> str:
        return PropertyPrediction.model_fields[target].title or target

    @classmethod
    def unit(cls, target: str) -> str:
        return PropertyPrediction.model_fields[target].json_schema_extra["unit"]

    @classmethod
    def header(cls, target: str, uncertainty: bool = False) -> str:
        """Table header: 'Gap (eV)', or 'Gap ± (eV)' for the uncertainty column."""
        extra = PropertyPrediction.model_fields[target].json_schema_extra
        return f"{extra['short']}{' ±' if uncertainty else ''} ({extra['unit']})"

    @classmethod
    def columns(cls, target: str) -> list[str]:
        """2DMD ``targets.csv`` columns of ``target``, in order of preference."""
        return list(PropertyPrediction.model_fields[target].json_schema_extra["columns"])

    def properties(self) -> dict:
        """The record's own fields (values, uncertainties, domain), to build a subclass from it."""
        return {k: getattr(self, k) for k in PropertyPrediction.model_fields}

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


Target = Literal[PropertyPrediction.targets()]  # type: ignore[valid-type]  # the properties above, nothing else
