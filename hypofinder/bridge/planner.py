"""The evidence planner: a question -> the defect space it asks about -> numbered facts, before generation.

    plan(question, concept=None) -> Evidence     # what the words say; no numbers yet
    gather(plan) -> Evidence                      # the planned requests predicted: facts [E1], [E2] ...
    evidence_for(question) -> Evidence            # plan + gather, once per question (cached per process)
    for_context(evidence, concept) -> Evidence    # a context's concept may choose the property
    prompt_block(evidence) -> str                 # the generator's evidence block ('' without numbers)

Deterministic (regular expressions over pymatgen's element names and symbols): the same question
always gives the same plan. Ambiguous words get their most plausible reading, said in
``assumptions``; other hosts, bulk crystals, interstitials, grain boundaries and defect types the
predictor was never trained on get no numbers and a ``reason``. Nothing heavy is imported until a
question turns out to be about point defects in a known host.
"""

from __future__ import annotations

import re

from hypofinder.bridge.text import (
    CLOSE,
    DOWN,
    FAR,
    KNOWN_LIST,
    NOCHANGE,
    UP,
    VARIABLE_WORDS,
    count_before,
)
from hypofinder.bridge.vocabulary import (
    COUNT,
    DEFECT_WORDS,
    DISTANCE,
    HOST_NAMES,
    HOSTS,
    LAYER,
    NOT_MONOLAYER,
    NUMBER_PREFIX,
    OTHER_MATERIALS,
    SCREEN,
    UNSUPPORTED,
    element,
    element_table,
    host_domain,
    symbol_of,
)
from hypofinder.models import Evidence
from hypofinder.prediction import registry, spec


# --------------------------------------------------------------------------- reading the question
def find_host(text: str) -> str | None:
    hits = [(m.start(), name) for name, pat in HOSTS.items() if (m := re.search(pat, text))]
    return min(hits)[1] if hits else None


def other_material(text: str) -> str | None:
    """A material the question names that is not a known host (formula via pymatgen, or a name)."""
    from pymatgen.core import Composition

    for m in re.finditer(r"\b(?:[A-Z][a-z]?\d*(?:\.\d+)?){1,5}\b", text):
        tok = m.group(0)
        if not re.search(r"\d", tok) and len(re.findall(r"[A-Z]", tok)) < 2:
            continue
        try:
            comp = Composition(tok)
        except Exception:  # noqa: BLE001 - not a formula
            continue
        if len(comp) >= 2 or re.search(r"\d", tok):
            return tok
    m = re.search(OTHER_MATERIALS, text, re.IGNORECASE)
    return m.group(1) if m else None


def _site_for(new: str, host: str, notes: list[str]) -> list[str]:
    """Host sites a dopant takes when the question does not say: same group, else the trained ones."""
    dom = host_domain()[host]
    els = [e for e in dom["elements"] if e != new]
    trained = [t.split("_")[1] for t in dom["types"] if t.startswith(f"{new}_")]
    if len(trained) == 1:
        return trained
    if len(trained) > 1:
        notes.append(f"{new} can sit on {' or '.join(trained)} sites in {HOST_NAMES[host]}: both are compared")
        return trained
    same = [e for e in els if element(e).group == element(new).group]
    if not same and els:  # the closest electronegativity
        same = [min(els, key=lambda e: abs(element(e).X - element(new).X))]
    if same:
        notes.append(f"{new} is assumed to take {same[0]} sites")
    return same[:1]


BEING = r"(?:\s+(?:is|are|was|were|gets?|got|being|been|partially|partly|randomly))*"  # "X is (partly) replaced by Y"


def find_species(text: str, host: str, notes: list[str]) -> tuple[list[str], int]:
    """Defect tokens the question names for ``host`` (first mention first) and the largest count stated."""
    _, el = element_table()
    found: list[tuple[int, str]] = []
    count = 0

    def add(pos: int, tok: str, n: int | None = None):
        nonlocal count
        found.append((pos, tok))
        count = max(count, n or 0)

    for m in re.finditer(r"\b(?:v_?\{?|V_\{?)([A-Z][a-z]?)\}?(?![a-z])", text):
        if symbol_of(m.group(1), host):
            add(m.start(), f"v{m.group(1)}")
    for m in re.finditer(r"\b([A-Z][a-z]?)_\{?([A-Z][a-z]?)\}?(?![a-z])", text):
        if symbol_of(m.group(1), host) and symbol_of(m.group(2), host):
            add(m.start(), f"{m.group(1)}_{m.group(2)}")
    vac = rf"\b({el})(?:[\s-]+atoms?)?[\s-]+(?:(di|double|tri|triple|single|mono)[\s-]?)?vacanc(?:y|ies)"
    for m in re.finditer(vac, text):
        s = symbol_of(m.group(1), host)
        if s:
            n = NUMBER_PREFIX.get((m.group(2) or "").lower()) or count_before(text, m.start())
            if re.match(r"\s*(?:pairs?|dimers?)", text[m.end() :], re.IGNORECASE):
                n = max(n or 0, 2)
            add(m.start(), f"v{s}", n)
    for pat in (
        rf"vacanc(?:y|ies)\s+(?:of|at|on)\s+(?:the\s+)?({el})",
        rf"missing\s+({el})\s+atoms?",
        rf"\b({el})[\s-]+deficien",
        rf"\b({el})[\s-]+poor\b",
    ):
        for m in re.finditer(pat, text):
            if s := symbol_of(m.group(1), host):
                add(m.start(), f"v{s}", count_before(text, m.start()))
    subs = [
        (
            rf"\b({el})(?:\s+atoms?)?\s+(?:dopants?\s+|impurit(?:y|ies)\s+)?(?:substitut\w*|replac\w*|on|at|in\s+place\s+of)"
            rf"\s+(?:for\s+)?(?:the\s+|an?\s+)?({el})(?:\s+(?:atoms?|sites?))?",
            1,
            2,
        ),
        (rf"\b({el})(?:\s+atoms?|\s+sites?)?{BEING}\s+(?:substituted|replaced)\s+(?:by|with)\s+({el})", 2, 1),
        (
            rf"\b(?:replac|substitut)(?:e|es|ing)\s+(?:the\s+|some\s+|\w+\s+of\s+the\s+)?({el})(?:\s+atoms?|\s+sites?)?"
            rf"\s+(?:by|with)\s+({el})",
            2,
            1,
        ),
        (rf"substitution\s+of\s+(?:the\s+)?({el})(?:\s+atoms?)?\s+(?:by|with)\s+({el})", 2, 1),
        (rf"\b({el})\s+substitution(?:s|al\w*)?\s+(?:for|of|at|on)\s+(?:the\s+)?({el})", 1, 2),
    ]
    placed: set[int] = set()
    for pat, gi_new, gi_old in subs:
        for m in re.finditer(pat, text):
            new, old = symbol_of(m.group(gi_new), host), symbol_of(m.group(gi_old), host)
            if new and old and new != old and old in host_domain()[host]["elements"]:
                add(m.start(), f"{new}_{old}", count_before(text, m.start()))
                placed.add(m.start(gi_new))
    dopant = [
        rf"\b({el})[\s-]+(?:atoms?\s+)?(?:dop(?:ed|ing|ants?)|substitut\w+|impurit\w+|alloy\w*)",
        rf"dop(?:ed|ing)\s+(?:\w+\s+)?(?:with|by)\s+({el})",
        rf"dopants?\s+(?:such\s+as\s+|like\s+)?({el})\b",
        rf"\b({el})\s+(?:atoms?\s+)?as\s+(?:an?\s+)?(?:dopants?|impurit)",
    ]
    for pat in dopant:
        for m in re.finditer(pat, text):
            new = symbol_of(m.group(1), host)
            if (
                not new
                or m.start(1) in placed
                or new in host_domain()[host]["elements"]
                and len(host_domain()[host]["elements"]) == 1
            ):
                continue
            for old in _site_for(new, host, notes):
                add(m.start(), f"{new}_{old}", count_before(text, m.start()))
    tokens = list(dict.fromkeys(t for _, t in sorted(found)))
    return tokens, count


def _generic_species(text: str, host: str, notes: list[str]) -> list[str]:
    """No element named: the host's trained defect types that fit the words (said as an assumption)."""
    types = host_domain()[host]["types"]
    vac = [t for t in types if t.startswith("v")]
    sub = [t for t in types if not t.startswith("v")]
    low = text.lower()
    if re.search(r"vacanc", low) and not re.search(r"substitut|dop|impurit", low):
        chalc = [t for t in vac if element(t[1:]).is_chalcogen]
        pick = chalc[:1] or vac
        notes.append(
            f"no element named: {'the chalcogen vacancy (' + pick[0] + ', the most common)' if chalc else ', '.join(pick)}"
            f" in {HOST_NAMES[host]}"
        )
        return pick
    if re.search(r"substitut|dop|impurit", low) and not re.search(r"vacanc", low):
        notes.append(f"no dopant named: the substitutions the predictor knows in {HOST_NAMES[host]} ({', '.join(sub)})")
        return sub
    notes.append(f"no defect type named: every type the predictor knows in {HOST_NAMES[host]} ({', '.join(types)})")
    return types


DEFAULT_TARGET = "homo_lumo_gap"  # what a question that names no property is given (with formation energies)


def read_property(text: str, host: str | None = None) -> tuple[str | None, str, str | None]:
    """(property named, target offered for it, note when the predictor does not offer it for ``host``)."""
    named = registry().named_in(text)
    fallback = spec(DEFAULT_TARGET)
    beside = registry().companion(fallback.name, host).title
    if named is None:
        return None, fallback.name, f"no property named: the {fallback.title} ({beside} given too)"
    if not named.carried_by(host):
        return (
            named.name,
            fallback.name,
            f"the {HOST_NAMES.get(host, host)} training data carry no {named.title} (2DMD has it for "
            f"{', '.join(HOST_NAMES.get(h, h) for h in named.hosts)} only): the {fallback.title} and {beside} "
            "are given instead",
        )
    return named.name, named.name, None


def _variable(text: str, n_species: int) -> tuple[str, str]:
    """(variable, kind): layer / defect_count / pair_distance trends, a screen, a comparison or a count trend."""
    low = re.sub(VARIABLE_WORDS, r"\1", text.lower())
    if re.search(LAYER, low):
        return "layer", "comparison"
    if re.search(COUNT, low):
        return "defect_count", "trend"
    if re.search(DISTANCE, low):
        return "pair_distance", "trend"
    if n_species > 1:
        return "none", "comparison"
    if re.search(SCREEN, low):
        return "pair_distance", "screen"
    return "defect_count", "trend"


def _direction(text: str, variable: str) -> str | None:
    """The claimed direction of the target as the variable grows; None when not stated or both ways."""
    low = re.sub(VARIABLE_WORDS, r"\1", text.lower())
    if re.search(NOCHANGE, low):
        return "no_change"
    down, up = re.search(DOWN, low), re.search(UP, low)
    if bool(down) == bool(up) or variable in ("none", "layer"):
        return None
    effect = "down" if down else "up"
    if variable == "pair_distance":
        close, far = re.search(CLOSE, low), re.search(FAR, low)
        if not close and not far:
            return None
        small = bool(close) and (not far or close.start() <= far.start())
        return "decreases" if (effect == "down") != small else "increases"
    return "decreases" if effect == "down" else "increases"


def _out(reason: str, **kw) -> Evidence:
    return Evidence(in_scope=False, reason=reason, summary=f"no predictor numbers: {reason}", **kw)


def plan(question: str, concept: str | None = None) -> Evidence:
    """What the question asks about point defects, as a plan (no numbers yet)."""
    text = " ".join((question or "").split())
    host = find_host(text)
    defects = re.search(DEFECT_WORDS, text, re.IGNORECASE)
    unsupported = [name for pat, name in UNSUPPORTED.items() if re.search(pat, text, re.IGNORECASE)]
    if host is None:
        other = other_material(text) if defects or unsupported else None
        if other:
            return _out(
                f"the question is about defects in {other}, which the defect predictor was not trained on "
                f"(it knows {KNOWN_LIST})"
            )
        if defects:
            return _out(f"the question names defects but none of the 2D hosts the predictor knows ({KNOWN_LIST})")
        return _out("the question is not about point defects in a 2D material")
    name = HOST_NAMES[host]
    m = re.search(
        rf"{NOT_MONOLAYER}[\s\w-]{{0,20}}?(?:{HOSTS[host]})|(?:{HOSTS[host]})\s+{NOT_MONOLAYER}", text, re.IGNORECASE
    )
    if m:
        return _out(f"the predictor was trained on monolayers; {m.group(0)} is outside its data", host=host)
    notes: list[str] = []
    species, count = find_species(text, host, notes)
    vacancy_or_sub = re.search(
        r"vacanc|substitut|dopant|dop(?:ed|ing)\b|impurit|anti-?site|deficien|missing", text, re.IGNORECASE
    )
    if not species and unsupported and not vacancy_or_sub:
        return _out(
            f"{', '.join(unsupported)} in {name} are not modelled: the predictor places vacancies and "
            "substitutions only",
            host=host,
        )
    if not species and not defects:
        return _out(f"the question names {name} but no point defects (vacancies, substitutions, dopants)", host=host)
    if re.search(r"anti-?sites?", text, re.IGNORECASE) and not species:
        return _out(
            f"antisites in {name} are not among the defect types the predictor was trained on "
            f"({', '.join(host_domain()[host]['types'])})",
            host=host,
        )
    if not species:
        species = _generic_species(text, host, notes)
    if unsupported:
        notes.append(f"{', '.join(unsupported)} are not modelled and were left out")
    trained = host_domain()[host]["types"]
    unknown = [t for t in species if t not in trained]
    if unknown:
        species = [t for t in species if t in trained]
        if not species:
            return _out(
                f"{', '.join(unknown)} in {name} {'is' if len(unknown) == 1 else 'are'} not among the defect "
                f"types the predictor was trained on ({', '.join(trained)})",
                host=host,
                species=unknown,
            )
        notes.append(f"{', '.join(unknown)} left out: not among the defect types the predictor was trained on")
    prop, target, note = read_property(text, host)
    if prop is None and concept:
        cprop, ctarget, cnote = read_property(concept, host)
        if cprop is not None and cnote is None:
            target, note = ctarget, f"no property named: {spec(ctarget).title} from the context's concept"
    if note:
        notes.append(note)
    variable, kind = _variable(text, len(species))
    if variable == "layer" and not any(is_sided(host, t) for t in species):
        notes.append(f"every {name} site of these defects lies in one plane: a pair-distance trend instead")
        variable, kind = "pair_distance", "trend"
    direction = _direction(text, variable)
    n = 1
    if variable != "defect_count":
        n_min = host_domain()[host]["n_min"]
        n = min(6, max(count, 2 if variable in ("pair_distance", "layer") else 1, n_min))
        if n_min > 1 and n == n_min and count < n_min:
            notes.append(f"{n} defects per configuration: the fewest the {name} training data holds")
    what = {
        "trend": f"a trend over {variable.replace('_', ' ')}",
        "screen": "a screen of arrangements",
        "comparison": "a comparison" + (" of same and different layers" if variable == "layer" else " of species"),
    }
    said = f", claimed '{direction}'" if direction else ""
    return Evidence(
        in_scope=True,
        reason=f"{'+'.join(species)} in {name}, {spec(target).title}: {what[kind]}{said}",
        host=host,
        species=species,
        property=prop,
        target=target,
        variable=variable,
        direction=direction,
        kind=kind,
        copies=n,
        assumptions=notes,
    )


def is_sided(host: str, token: str) -> bool:
    """Do this defect's sites sit above or below the mid-plane (so 'same layer' means something)?"""
    from hypofinder.defects.hosts import host_info

    h = host_info(host)
    site = token[1:] if token.startswith("v") else token.split("_")[1]
    z = (h.unit_frac @ h.unit_lattice)[:, 2] - h.centre_z
    return any(abs(dz) > 0.1 for dz, el in zip(z, h.unit_cell) if el.specie.symbol == site)


__all__ = ["find_host", "find_species", "host_domain", "is_sided", "other_material", "plan", "read_property"]
