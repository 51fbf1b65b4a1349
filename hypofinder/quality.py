"""The prose check: does a text field read as a sentence a person wrote, or is it decoding debris?

Used after decoding (regenerate once, then flag), by the evaluation harness (``junk_rate``) and by the
text-quality benchmark. Deterministic and dependency-free: a few regular expressions and a word list.
"""

from __future__ import annotations

import re
from functools import lru_cache

CITATION = r"\[(E|S)\d{1,2}\]"

# A sentence as a decoder may write it (JSON-schema ``pattern``; llama.cpp turns it into a grammar): a
# capital or digit first, then 3-30 more words separated by one space or ", " "; " ": ", and a full stop at
# the end. A word is letters (with digits, ' / + % - inside: MoS2, spin-orbit), or a number with an optional
# decimal part and unit (0.3, 2D, 5%), optionally in parentheses; a word has at most 30 characters (unbounded,
# SmolLM2 at repeat penalty 1.3 once wrote one "word" until max_tokens: "1 RepRepRewRefDraft..."; the bound
# did not slow decoding). Citation markers count as words only where the prompt has something to cite: [E1]
# for the predictor's facts, [S2] for library sources (``markers``); a field that must cite ends with one
# (``cite``). No braces, quotes, backticks or other brackets can be decoded. Written with ``[.]`` rather than
# ``\.`` and without ``(?:`` because llama.cpp's pattern converter rejects both.
_WORD_TAIL = r"[A-Za-z0-9'/+%-]{0,29}"
_WORD_RE = rf"[A-Za-z]{_WORD_TAIL}"
_NUMBER_RE = r"[0-9]{1,9}([.][0-9]{1,6})?[A-Za-z%]{0,5}"


def sentence_pattern(markers: str = "", cite: str = "", opening: tuple[str, ...] = ()) -> str:
    """The prose pattern admitting the citation markers of ``markers`` ("", "E", "S", "ES") inside, ending
    with a required marker of kind ``cite`` ("" for none, "E"), and, given ``opening`` phrases, starting with
    one of them (e.g. ``subject_openings``: a statement that names its subject)."""
    marker = rf"|\[[{markers}][0-9]{{1,2}}\]" if markers else ""
    end = rf" \[{cite}[0-9]{{1,2}}\][.]$" if cite else "[.]$"
    first = rf"[A-Z]{_WORD_TAIL}|{_NUMBER_RE}"
    phrases = [p for p in opening if _PHRASE.fullmatch(p)]
    if phrases:
        first = "|".join(dict.fromkeys(phrases))
    return rf"^({first})((, |; |: | )(\(?({_WORD_RE}|{_NUMBER_RE})\)?{marker})){{3,30}}{end}"


def subject_openings(labels: tuple[str, ...]) -> tuple[str, ...]:
    """Sentence openings naming a subject: 'Domain walls' -> 'The domain walls', 'Domain walls'; acronyms
    keep their case ('The MoS2', 'MoS2')."""
    out: list[str] = []
    for label in labels:
        head, rest = label[:1], label[1:]
        the = label if rest[:1].isupper() or rest[:1].isdigit() else head.lower() + rest
        out += [f"The {the}", head.upper() + rest]
    return tuple(dict.fromkeys(out))


CLAIM_VERBS = ("increases", "decreases", "rises", "falls")


def claim_openings(prop: str, system: str = "", verbs: tuple[str, ...] = CLAIM_VERBS) -> tuple[str, ...]:
    """Statement openings naming the planned property (and system) and a direction, one of ``verbs`` (none:
    the model goes on freely): ('Band gap', 'Layered semiconductors') -> 'The band gap of layered
    semiconductors increases', ..."""
    p = _lower_first(prop)
    of = f" of {_lower_first(system)}" if system else ""
    return tuple(f"The {p}{of} {verb}" for verb in verbs) if verbs else (f"The {p}{of}",)


def _lower_first(label: str) -> str:
    """'Band gap' -> 'band gap'; acronyms and formulas keep their case ('MoS2', 'HOMO-LUMO gap')."""
    keep = any(c.isupper() or c.isdigit() for c in label.split()[0][1:]) if label.strip() else True
    return label if keep else label[:1].lower() + label[1:]


def technique_openings(labels: tuple[str, ...]) -> tuple[str, ...]:
    """Step openings naming a planned technique: 'Band structure methods' -> 'Use band structure methods'
    (acronyms and names keep their case: 'Use STM', 'Use Raman spectroscopy')."""
    out = []
    for label in labels:
        head, rest = label[:1], label[1:]
        keep = rest[:1].isupper() or rest[:1].isdigit() or label.split()[0] in _NAMED
        out.append(f"Use {label if keep else head.lower() + rest}")
    return tuple(dict.fromkeys(out))


_NAMED = frozenset("Raman Monte Hall Kerr Brillouin Mossbauer Auger Bloch Hubbard Landau Ising Heisenberg".split())
REVIEW_OPENINGS = ("Its strength is", "Its main strength is")  # SmolLM2 otherwise copied the instruction line


_PHRASE = re.compile(r"[A-Za-z][A-Za-z0-9 '-]{1,100}")  # a label usable inside the pattern as it is
SENTENCE_PATTERN = sentence_pattern()


def is_prose_pattern(pattern: str | None) -> bool:
    """Is ``pattern`` one of ``sentence_pattern``'s (whatever its markers and opening)?"""
    return bool(pattern) and pattern.endswith("[.]$") and f"(, |; |: | )(\\(?({_WORD_RE}" in pattern


_WORD = re.compile(r"[A-Za-z][A-Za-z\-']*")
_DEBRIS = re.compile(r"[{}`<>\\|]|\"\"|''|,\s*,|:\s*\"|\"\s*:|\[\s*\]")
_BRACKET = re.compile(r"\[[^\]]*\]")
_JSON_DEBRIS = re.compile(r"[{}`]|,\s*,|:\s*\"|\"\s*:|\[\s*\]")  # for free prose: '<', '|', quotes are physics


@lru_cache(maxsize=1)
def _common_words() -> frozenset[str]:
    """English words plus physics vocabulary: tiktoken's cl100k vocabulary is a good proxy for 'a word'."""
    from hypofinder.llm.tokens import vocabulary_words

    return vocabulary_words() | _MORPHEMES


# Prefixes and stems of physics words that cl100k does not hold as whole words.
_MORPHEMES = frozenset(
    """
ferro magneto electro thermo photo opto piezo pyro hetero homo nano micro meso macro poly mono multi quasi semi
super anti para dia chalcogen chalcogenide skyrmion perovskite phonon magnon exciton polariton fermion boson
oxide ide ides ic ics ity
""".split()
)


@lru_cache(maxsize=20000)
def _is_word(word: str) -> bool:
    """A dictionary word, or a compound of at most three (magneto-resistance, anti-ferro-magnetic, mono-layers)."""
    known = _common_words()
    if not word:
        return False
    if "-" in word or "'" in word:
        return all(_is_word(part) for part in re.split(r"[-']", word) if part)
    return word in known or _compound(word, 3) or (word.endswith("s") and _compound(word[:-1], 3))


def _compound(word: str, parts: int) -> bool:
    known = _common_words()
    if word in known and len(word) >= 3:
        return True
    if parts <= 1:
        return False
    return any(word[:i] in known and _compound(word[i:], parts - 1) for i in range(3, len(word) - 2))


# Markdown is formatting, not debris: a served model's headings, bullets, bold and inline code.
_MD_LINE_START = re.compile(r"^\s{0,3}(#{1,6}\s+|>\s?|[-*+\u2022]\s+|\d{1,3}[.)]\s+)")
_MD_RULE = re.compile(r"^\s{0,3}([-*_]\s*){3,}$")
_MD_HEADING = re.compile(r"^\s{0,3}(#{1,6}\s+.*|(\*\*|__)[^*_]+(\*\*|__):?)\s*$")
_MD_SPANS = (
    (re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1"), r"\2"),  # bold
    (re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])"), r"\1"),  # italic
    (re.compile(r"`([^`\n]+)`"), r"\1"),  # inline code
    (re.compile(r"\[([^\]\n]+)\]\((?:[^)\s]+)\)"), r"\1"),  # link: its text
)


def strip_markdown(text: str | None) -> str:
    """``text`` without Markdown formatting, lines joined by spaces: heading, quote, bullet and list-number
    marks at line starts, horizontal rules, bold, italic, inline code and links (their text kept). A heading
    that ends without punctuation gets a colon ("## Steps" -> "Steps:"), so it reads as a lead-in."""
    out = []
    for line in (text or "").splitlines():
        if not line.strip() or _MD_RULE.match(line):
            continue
        heading = bool(_MD_HEADING.match(line))
        line = _MD_LINE_START.sub("", line)
        for pattern, repl in _MD_SPANS:
            line = pattern.sub(repl, line)
        line = line.strip()
        if heading and line and line[-1] not in ".:!?":
            line += ":"
        out.append(line)
    return " ".join(" ".join(out).split())


def prose_problems(text: str | None, *, min_words: int = 4, source: str = "") -> list[str]:
    """Why ``text`` is not prose (empty list: it is). ``source`` (the prompt) catches copied text. Markdown
    formatting is removed first (``strip_markdown``): it is formatting, not debris."""
    text = strip_markdown(text)
    if not text:
        return ["empty"]
    problems: list[str] = []
    words = _WORD.findall(text)
    if len(words) < min_words:
        problems.append("too short")
    if not (text[0].isupper() or text[0].isdigit()):
        problems.append("does not start with a capital")
    if _DEBRIS.search(text) or any(not re.fullmatch(CITATION, b) for b in _BRACKET.findall(text)):
        problems.append("JSON or bracket debris")
    if words:
        quoted = {w.lower() for w in _WORD.findall(source)}  # names from the question or concept are words
        share = sum(w.lower().strip("'-") in quoted or _is_word(w.lower().strip("'-")) for w in words) / len(words)
        if share < 0.7:
            problems.append("not mostly words")
        lowered = [w.lower() for w in words]
        if len(lowered) >= 6 and len(set(lowered)) / len(lowered) < 0.5:
            problems.append("repeated words")
    if source and len(text) >= 40 and " ".join(text.lower().split()) in " ".join(source.lower().split()):
        problems.append("copied from the prompt")
    return problems


def debris_problems(text: str | None, *, source: str = "", **_: object) -> list[str]:
    """What is debris for any model (the capable profile's check): an empty field, JSON or bracket debris
    left after Markdown is stripped, or text copied from the prompt."""
    text = strip_markdown((text or "").strip())
    if not text:
        return ["empty"]
    problems = []
    if _JSON_DEBRIS.search(text) or any(not re.fullmatch(CITATION, b) for b in _BRACKET.findall(text)):
        problems.append("JSON or bracket debris")
    if source and len(text) >= 40 and " ".join(text.lower().split()) in " ".join(source.lower().split()):
        problems.append("copied from the prompt")
    return problems


COPY_RUN = 4  # words: a field sharing a run this long with the prompt's own text (not the question's) copied it
_RUN_WORD = re.compile(r"[a-z0-9]+")


def word_runs(text: str, n: int = COPY_RUN) -> set[tuple[str, ...]]:
    words = _RUN_WORD.findall(text.lower())
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def copied_run(text: str, prompt: str, literals: tuple[str, ...]) -> str | None:
    """A run of ``COPY_RUN`` words that ``text`` shares with the prompt's own text (``literals``: instructions,
    worked example) and that is not in what the prompt was filled with (question, facts, sources), or None."""
    if not literals:
        return None
    filled = prompt
    for literal in sorted(literals, key=len, reverse=True):
        filled = filled.replace(literal, "\n")
    fixed = set().union(*(word_runs(lit) for lit in literals))
    shared = (word_runs(text) & fixed) - word_runs(filled)
    return " ".join(min(shared)) if shared else None


def is_prose(text: str | None, **kw) -> bool:
    return not prose_problems(text, **kw)
