"""Reading a hypothesis' own words when the model emitted no structured request.

``read_text(text) -> TextReading``: is it about point defects in a known 2D host, and, where
the words allow it deterministically, the ``ValidationRequest`` they spell out (e.g. "sulfur
vacancy pairs in MoS2 lower the gap more when close" -> MoS2, [vS, vS], gap vs pair distance,
"increases"). Pure regular expressions: the same text always gives the same reading.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from hypofinder.models import ValidationRequest
from hypofinder.prediction import registry

KNOWN_LIST = "MoS2, WSe2, h-BN, GaSe, InSe, black phosphorus"

HOST_PATTERNS = {
    "MoS2": r"\bMoS[_\s]?[2₂]|molybdenum\s+di-?sul(?:f|ph)ide|molybdenite",
    "WSe2": r"\bWSe[_\s]?[2₂]|tungsten\s+di-?selenide",
    "BN": r"\bh-?BN\b|\bBN\b|boron\s+nitride",
    "GaSe": r"\bGaSe\b|gallium\s+(?:mono)?selenide",
    "InSe": r"\bInSe\b|indium\s+(?:mono)?selenide",
    "P": r"black\s+phosphorus|phosphorene|\bblack\s+P\b",
}
OTHER_HOSTS = r"\b(graphene|silicene|germanene|stanene|borophene|MXenes?|WS[2₂]|MoSe[2₂]|MoTe[2₂]|WTe[2₂]|SnS[2₂]|ReS[2₂]|PtSe[2₂]|hafnia|perovskites?)\b"
DEFECT_WORDS = r"vacanc|substitut|replac(?:ed|es|ing)\b|in\s+place\s+of|dopant|dop(?:ed|ing)\b|anti-?sites?|point[\s-]+defects?|divacanc"
DEFECT_TOKENS = r"\bv(?:Se|Mo|Ga|In|S|W|B|N|P)\b|\bV_\{?[A-Z][a-z]?\b|\b[A-Z][a-z]?_\{?[A-Z][a-z]?\}?(?![a-z])"
UNSUPPORTED_DEFECTS = r"interstitial|adatom|grain\s+boundar|dislocation|edge\s+state|Frenkel"

ELEMENTS = {
    "sulfur": "S",
    "sulphur": "S",
    "selenium": "Se",
    "molybdenum": "Mo",
    "tungsten": "W",
    "boron": "B",
    "nitrogen": "N",
    "carbon": "C",
    "oxygen": "O",
    "gallium": "Ga",
    "indium": "In",
    "phosphorus": "P",
    "tellurium": "Te",
    "niobium": "Nb",
    "rhenium": "Re",
    "chromium": "Cr",
    "vanadium": "V",
}
SYMBOLS = ("Se", "Mo", "Ga", "In", "Te", "Nb", "Re", "Cr", "S", "W", "B", "N", "C", "O", "P", "V")
HOST_ELEMENTS = {
    "MoS2": ("Mo", "S"),
    "WSe2": ("W", "Se"),
    "BN": ("B", "N"),
    "GaSe": ("Ga", "Se"),
    "InSe": ("In", "Se"),
    "P": ("P",),
}
CHALCOGEN = {"MoS2": "S", "WSe2": "Se", "GaSe": "Se", "InSe": "Se"}
METAL = {"MoS2": "Mo", "WSe2": "W", "GaSe": "Ga", "InSe": "In"}
GROUP = {
    "S": 16,
    "Se": 16,
    "Te": 16,
    "O": 16,
    "Mo": 6,
    "W": 6,
    "Cr": 6,
    "B": 13,
    "Ga": 13,
    "In": 13,
    "N": 15,
    "P": 15,
    "C": 14,
    "Nb": 5,
    "V": 5,
    "Re": 7,
}

# element names in any case, symbols case-sensitive ("In" the symbol, never "in" the word)
_EL = "|".join(sorted(ELEMENTS, key=len, reverse=True)) + "|chalcogen|metal|(?-i:" + "|".join(SYMBOLS) + ")"
NUMBERS = {
    "two": 2,
    "pair": 2,
    "pairs": 2,
    "double": 2,
    "di": 2,
    "three": 3,
    "triple": 3,
    "tri": 3,
    "four": 4,
    "five": 5,
    "six": 6,
}

CLOSE = r"close(?:r)?\s+(?:together|to\s+each\s+other|by)|\bcloser\b|nearby|adjacent|neighbou?ring|clustered|clustering|aggregat|agglomerat|short(?:er)?\s+(?:distance|separation)|small(?:er)?\s+(?:distance|separation)"
FAR = r"far(?:ther|ther)?\s+apart|\bapart\b|separated|isolated|dispersed|distant|spread\s+out|long(?:er)?\s+(?:distance|separation)|larg(?:e|er)\s+(?:distance|separation)"
DISTANCE = r"distance|separation|spacing"
DOWN = r"\blower(?:s|ed|ing)?\b|reduc|decreas|narrow|shrink|smaller|diminish|clos(?:e|es|ing)\s+the\s+(?:band\s*)?gap|stabili[sz]|more\s+stable"
UP = r"\braise|increas|widen|\bopen(?:s|ing)?\s+(?:the\s+)?(?:band\s*)?gap|larger|enhanc|\bhigher\b|destabili[sz]|less\s+stable"
VARIABLE_WORDS = r"(?:higher|larger|greater|increas\w*|more|lower|smaller|reduc\w*|decreas\w*)\s+(?:defect\s+|vacancy\s+|dopant\s+)?(concentrations?|density|densities|number|doping|coverage|amount)"
NOCHANGE = r"no\s+(?:significant\s+)?(?:effect|change|influence)|unchanged|independent\s+of|does\s+not\s+(?:change|affect|depend)|insensitive"


@dataclass
class TextReading:
    """What the words say: in scope or not (with a reason), and the request they spell out."""

    in_scope: bool
    reason: str
    host: str | None = None
    request: ValidationRequest | None = None
    direction_stated: bool = False
    notes: list[str] = field(default_factory=list)


def find_host(text: str) -> str | None:
    hits = []
    for name, pat in HOST_PATTERNS.items():
        flags = 0 if name == "BN" else re.I
        m = re.search(pat, text, flags)
        if m:
            hits.append((m.start(), name))
    return min(hits)[1] if hits else None


def _symbol(word: str, host: str) -> str | None:
    w = word.strip()
    low = w.lower()
    if low in ELEMENTS:
        return ELEMENTS[low]
    if low == "chalcogen":
        return CHALCOGEN.get(host)
    if low == "metal":
        return METAL.get(host)
    return w if w in SYMBOLS else None


def count_before(text: str, end: int) -> int | None:
    """A number word or digit right before position ``end`` ("two sulfur vacancies", "3 S vacancies")."""
    m = re.search(
        r"(\b\d{1,2}\b|\b(?:two|three|four|five|six|double|triple|pair(?:s)?\s+of)\b)\W*(?:\w+\W+){0,2}$",
        text[max(0, end - 40) : end],
        re.I,
    )
    if not m:
        return None
    word = m.group(1).lower().split()[0]
    return int(word) if word.isdigit() else NUMBERS.get(word)


def find_defects(text: str, host: str) -> tuple[list[str], list[str]]:
    """Defect tokens the text names for ``host`` (with multiplicity), and notes on what was skipped."""
    found: list[tuple[int, str, int]] = []  # (position, token, count)
    notes: list[str] = []
    for m in re.finditer(r"\b[vV]_?\{?(Se|Mo|Ga|In|Te|S|W|B|N|P)\}?(?![a-z])", text):
        if m.group(0)[0] == "V" and "_" not in m.group(0):
            continue  # "VS", "VN": too ambiguous without the underscore
        found.append((m.start(), f"v{m.group(1)}", 1))
    for m in re.finditer(r"\b([A-Z][a-z]?)_\{?([A-Z][a-z]?)\}?", text):
        found.append((m.start(), f"{m.group(1)}_{m.group(2)}", 1))
    for m in re.finditer(rf"\b({_EL})(?:\s+atoms?)?[\s-]+(di|tri)?-?vacanc(?:y|ies)", text, re.I):
        sym = _symbol(m.group(1), host)
        if sym:
            n = NUMBERS.get((m.group(2) or "").lower()) or count_before(text, m.start()) or 1
            if re.match(r"\s*(?:pairs?|dimers?)", text[m.end() :], re.I):
                n = max(n, 2)
            found.append((m.start(), f"v{sym}", n))
    for m in re.finditer(rf"\bvacanc(?:y|ies)\s+(?:of|at)\s+(?:the\s+)?({_EL})(?:\s+(?:atoms?|sites?))?", text, re.I):
        sym = _symbol(m.group(1), host)
        if sym:
            found.append((m.start(), f"v{sym}", count_before(text, m.start()) or 1))
    sub = [
        (
            rf"\b({_EL})(?:\s+atoms?)?\s+(?:substitut\w*|replac\w*|on|at|in\s+place\s+of)\s+(?:for\s+)?(?:the\s+)?({_EL})(?:\s+(?:atoms?|sites?))?",
            1,
            2,
        ),
        (
            rf"\b({_EL})(?:\s+atoms?|\s+sites?)?(?:\s+(?:is|are|was|were|partially|partly))*\s+(?:substituted|replaced)"
            rf"\s+(?:by|with)\s+({_EL})\b",
            2,
            1,
        ),
        (rf"\b(?:replac|substitut)(?:e|es|ing)\s+(?:the\s+)?({_EL})(?:\s+atoms?)?\s+(?:by|with)\s+({_EL})\b", 2, 1),
        (rf"\b({_EL})\s+substitution(?:s|al\s+\w+)?\s+(?:for|of|at|on)\s+(?:the\s+)?({_EL})\b", 1, 2),
    ]
    for pat, gi_new, gi_old in sub:
        for m in re.finditer(pat, text, re.I):
            new, old = _symbol(m.group(gi_new), host), _symbol(m.group(gi_old), host)
            if new and old and new != old and old in HOST_ELEMENTS[host]:
                found.append((m.start(), f"{new}_{old}", count_before(text, m.start()) or 1))
    for m in re.finditer(rf"\b({_EL})[\s-]+dop(?:ed|ing|ants?)\b", text, re.I):
        new = _symbol(m.group(1), host)
        same = [e for e in HOST_ELEMENTS[host] if new and GROUP.get(e) == GROUP.get(new) and e != new]
        if len(same) == 1:
            found.append((m.start(), f"{new}_{same[0]}", count_before(text, m.start()) or 1))
        elif new:
            notes.append(f"{new} doping: the site it takes in {host} is not stated")
    tokens: list[str] = []
    seen: set[tuple[int, str]] = set()
    for pos, tok, n in sorted(found):
        if any(abs(pos - p) < 3 and t == tok for p, t in seen):
            continue
        seen.add((pos, tok))
        if tok not in tokens:
            tokens += [tok] * max(1, min(n, 6))
    return tokens, notes


def _relation(text: str) -> tuple[str, str | None]:
    """(variable, direction or None): how the target is said to change as the variable grows."""
    low = re.sub(VARIABLE_WORDS, r"\1", text.lower())  # "higher concentration" names the variable, not the effect
    down = re.search(DOWN, low)
    up = re.search(UP, low)
    effect = None
    if re.search(NOCHANGE, low):
        effect = "none"
    elif down and (not up or down.start() <= up.start()):
        effect = "down"
    elif up:
        effect = "up"
    close, far = re.search(CLOSE, low), re.search(FAR, low)
    if close or far or re.search(DISTANCE, low):
        if effect == "none":
            return "pair_distance", "no_change"
        if effect is None:
            return "pair_distance", None
        small = bool(close) and (not far or close.start() <= far.start())
        # 'lower when close' -> the target rises as the distance grows
        grows_down = (effect == "down") != small
        return "pair_distance", "decreases" if grows_down else "increases"
    if effect == "none":
        return "defect_count", "no_change"
    if effect is None:
        return "defect_count", None
    return "defect_count", "decreases" if effect == "down" else "increases"


def _target(text: str, host: str) -> str:
    """The property the text names first (one the host's data carry), else the gap."""
    named = registry().named_in(text)
    return named.name if named is not None and named.carried_by(host) else "homo_lumo_gap"


def read_text(text: str) -> TextReading:
    """Scope of a free-text hypothesis and the request it spells out (if any)."""
    text = " ".join((text or "").split())
    if not text:
        return TextReading(False, "there is no hypothesis text to check")
    host = find_host(text)
    defects_named = re.search(DEFECT_WORDS, text, re.I) or re.search(DEFECT_TOKENS, text)
    if host is None:
        other = re.search(OTHER_HOSTS, text, re.I)
        if defects_named and other:
            return TextReading(
                False,
                f"the hypothesis is about defects in {other.group(1)}, which the defect predictor was not "
                f"trained on (known hosts: {KNOWN_LIST})",
            )
        if defects_named:
            return TextReading(
                False, f"the hypothesis names defects but none of the 2D hosts the predictor knows ({KNOWN_LIST})"
            )
        return TextReading(
            False, "the hypothesis is not about point defects (vacancies, substitutions) in a 2D material"
        )
    if not defects_named:
        if re.search(UNSUPPORTED_DEFECTS, text, re.I):
            return TextReading(
                False,
                f"the hypothesis is about {host} defects other than vacancies and substitutions, "
                "which the predictor does not model",
            )
        return TextReading(
            False,
            f"the hypothesis mentions {host} but no point defects (vacancies, substitutions, dopants) "
            "the predictor could place",
        )
    tokens, notes = find_defects(text, host)
    if not tokens:
        return TextReading(
            True,
            f"the hypothesis is about point defects in {host} but does not name which atoms are removed or substituted",
            host=host,
            notes=notes,
        )
    variable, direction = _relation(text)
    if variable == "pair_distance" and len(tokens) == 1:
        tokens = tokens * 2
    if variable == "defect_count" and len(set(tokens)) == 1:
        tokens = tokens[:1]
    request = ValidationRequest(
        host=host,
        defects=tokens[:12],
        target=_target(text, host),
        variable=variable,
        direction=direction or "no_change",
    )
    return TextReading(True, "", host=host, request=request, direction_stated=direction is not None, notes=notes)


__all__ = ["TextReading", "find_defects", "find_host", "read_text"]
