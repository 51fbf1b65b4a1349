"""The planner's vocabulary: how researchers name the six hosts, defects and variables (the properties' words
are on each property: ``hypofinder.prediction.PropertySpec.words``), and
the element data (pymatgen) that turns element names and symbols into defect tokens."""

from __future__ import annotations

import json
import re
from functools import lru_cache

from hypofinder.bridge.text import CLOSE, FAR

HOSTS = {  # canonical name -> formulas, names, spellings, abbreviations
    "MoS2": r"(?i:\bMoS[_\s]?[2₂]|molybdenum\s+(?:di-?)?sul(?:f|ph)ide|molybdenite)",
    "WSe2": r"(?i:\bWSe[_\s]?[2₂]|tungsten\s+(?:di-?)?selenide|wolfram\s+diselenide)",
    "BN": r"\bh-?BN\b|\bhBN\b|\bBN\b|(?i:boron\s+nitride|white\s+graphene)",
    "GaSe": r"\bGaSe\b|(?i:gallium\s+(?:mono)?selenide)",
    "InSe": r"\bInSe\b|(?i:indium\s+(?:mono)?selenide)",
    "P": r"(?i:black\s+phosphorus|phosphorene|\bblack\s+P\b|(?:monolayer|single-layer|2D)\s+phosphorus)|\bBP\b",
}
HOST_NAMES = {"MoS2": "MoS2", "WSe2": "WSe2", "BN": "h-BN", "GaSe": "GaSe", "InSe": "InSe", "P": "black phosphorus"}
NOT_MONOLAYER = r"\b(bulk|bilayer|multilayer|multi-layer|few-layer|trilayer|thick)\b"
OTHER_MATERIALS = (
    r"\b(graphene|graphite|silicene|germanene|stanene|borophene|MXenes?|perovskites?|diamond|"
    r"silicon|germanium|metal\s+oxides?|oxides?|glass(?:es)?|steel|alloys?)\b"
)
DEFECT_WORDS = (
    r"vacanc|substitut|dopant|dop(?:ed|ing)\b|anti-?sites?|point[\s-]+defects?|impurit|deficien|"
    r"missing\s+\w+\s+atoms?|\bdefects?\b"
)
UNSUPPORTED = {
    "interstitial": "interstitials",
    "adatom": "adatoms",
    r"grain\s+boundar": "grain boundaries",
    "dislocation": "dislocations",
    r"\bedges?\b": "edges",
    "frenkel": "Frenkel pairs",
    r"stone[\s-]+wales": "Stone-Wales defects",
    r"intercala": "intercalants",
    "adsorb": "adsorbates",
}
LAYER = (
    r"same\s+(?:\w+\s+)?(?:layer|side|plane|sublayer)|different\s+(?:\w+\s+)?(?:layers|sides|sublayers|planes)|"
    r"opposite\s+(?:\w+\s+)?(?:layers|sides)|top\s+and\s+bottom|both\s+(?:\w+\s+)?(?:layers|sides)|"
    r"which\s+(?:\w+\s+)?(?:layer|sublayer)"
)
COUNT = (
    r"concentration|densit(?:y|ies)|number\s+of|\bcount\b|coverage|percent|%|doping\s+levels?|amount|how\s+many|"
    r"more\s+(?:\w+\s+)?(?:vacancies|dopants|defects|substitutions)|accumulat|dilute|heavily|stoichiometr"
)
DISTANCE = (
    CLOSE + "|" + FAR + r"|distance|separation|spacing|cluster|aggregat|agglomerat|\bpairs?\b|dimers?|"
    r"divacanc|interact|proximity|neighbo|\bnear\b"
)
SCREEN = (
    r"\b(?:best|worst|optimal|optimum|lowest|highest|smallest|largest|most\s+stable|least\s+stable|"
    r"maximi[sz]\w*|minimi[sz]\w*|design\w*|arrangements?|configurations?|placements?|ordering|distribution)\b"
)
NUMBER_PREFIX = {"di": 2, "double": 2, "tri": 3, "triple": 3, "single": 1, "mono": 1}


# --------------------------------------------------------------------------- elements (pymatgen's data)
@lru_cache(maxsize=1)
def element_table() -> tuple[dict[str, str], str]:
    """(lower-case name -> symbol, regex alternation of names (any case) and symbols (case-sensitive))."""
    from pymatgen.core.periodic_table import Element

    names = {e.long_name.lower(): e.symbol for e in Element}
    names.update(sulphur="S", aluminium="Al", caesium="Cs", wolfram="W")
    words = sorted(names, key=len, reverse=True) + ["chalcogen", "transition[\\s-]metal", "metal", "anion", "cation"]
    symbols = sorted((e.symbol for e in Element), key=len, reverse=True)
    return names, "(?i:" + "|".join(words) + ")|(?:" + "|".join(symbols) + r")(?![a-z])"


@lru_cache(maxsize=64)
def element(symbol: str):
    from pymatgen.core.periodic_table import Element

    return Element(symbol)


@lru_cache(maxsize=1)
def host_domain() -> dict[str, dict]:
    """Per host: elements, trained defect tokens and the smallest defect count trained on (metadata.json)."""
    from hypofinder.defects.hosts import known_hosts
    from hypofinder.settings import settings

    meta = json.loads((settings().models_dir / "metadata.json").read_text()).get("domain", {})
    out: dict[str, dict] = {}
    for subset, host in known_hosts().items():
        d = out.setdefault(host.name, {"elements": host.elements, "types": [], "n_min": 99})
        dom = meta.get(subset, {})
        for z_from, z_to in dom.get("types", []):
            site = element_symbol(z_from)
            tok = f"v{site}" if z_to == 0 else f"{element_symbol(z_to)}_{site}"
            if tok not in d["types"]:
                d["types"].append(tok)
        d["n_min"] = min(d["n_min"], int(dom.get("n_min", 1)))
    return out


def element_symbol(z: int) -> str:
    from pymatgen.core.periodic_table import Element

    return Element.from_Z(int(z)).symbol


def symbol_of(word: str, host: str) -> str | None:
    """An element word in a host's context: names, symbols, 'chalcogen', 'metal', 'anion', 'cation'."""
    names, _ = element_table()
    low = re.sub(r"[\s-]+", " ", word.strip().lower())
    if low in names:
        return names[low]
    els = host_domain()[host]["elements"]
    by_x = sorted(els, key=lambda e: element(e).X)
    if low == "chalcogen":
        return next((e for e in els if element(e).is_chalcogen), None)
    if low in ("metal", "transition metal", "cation"):
        return next((e for e in els if element(e).is_metal), by_x[0] if len(els) > 1 else None)
    if low == "anion":
        return by_x[-1] if len(els) > 1 else None
    try:
        return element(word.strip()).symbol if word.strip()[0].isupper() else None
    except ValueError:
        return None
