"""Check citations: every [S<n>] must name a given source, and that source must support the sentence.

Support is the cosine similarity (all-MiniLM-L6-v2) between the citing sentence, citation marks
removed, and the closest of the source passage and its single sentences. Below ``SUPPORT_THRESHOLD``
the citation is flagged "unsupported". The threshold is measured by ``benchmarks/bench_library.py``:
48 claims restating one of 24 abstracts (titles and hand-written paraphrases) score a median 0.75
against the abstract they restate, 0.43 against the most similar other abstract and 0.28 against a
random one. 0.60 has the best balanced accuracy of supported vs most-similar-other: 96 % of
supported citations kept, 88 % of those citing the neighbouring paper and 100 % of those citing an
unrelated one flagged. Similarity checks topic and wording, not entailment: a sentence that
contradicts its source in the source's own words still passes.
"""

from __future__ import annotations

import re

import numpy as np

from hypofinder.library.store import embed
from hypofinder.models import CitationFlag, Source

SUPPORT_THRESHOLD = 0.60  # measured: see the module docstring and benchmarks/bench_library.py

CITATION = re.compile(r"\[\s*(S\s*\d+(?:\s*[,;–-]\s*S?\s*\d+)*)\s*\]", re.IGNORECASE)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\[A-Z0-9])")
_LEADING_CITES = re.compile(r"^((?:\s*\[[^\]]*\])+)\s*")


def refs(marks: str) -> list[int]:
    """'S1, S3' -> [1, 3]; 'S2-S4' -> [2, 3, 4]."""
    out: list[int] = []
    for part in re.split(r"[,;]", marks):
        nums = [int(n) for n in re.findall(r"\d+", part)]
        if len(nums) == 2 and re.search(r"[–-]", part) and nums[0] <= nums[1] <= nums[0] + 20:
            out += list(range(nums[0], nums[1] + 1))
        else:
            out += nums
    return out


def sentences(text: str) -> list[str]:
    """Split prose into sentences; citation marks that open a sentence belong to the one before."""
    parts = [p.strip() for p in _SENTENCE_END.split(" ".join((text or "").split())) if p.strip()]
    out: list[str] = []
    for p in parts:
        lead = _LEADING_CITES.match(p)
        if lead and out and CITATION.search(lead.group(1)):
            out[-1] = f"{out[-1]} {lead.group(1).strip()}"
            p = p[lead.end() :].strip()
        if p:
            out.append(p)
    return out


def strip_citations(text: str) -> str:
    return " ".join(CITATION.sub(" ", text).split())


def citations(text: str) -> list[tuple[str, list[int]]]:
    """(sentence, cited source numbers) for every sentence of ``text`` that cites."""
    found = []
    for s in sentences(text):
        nums = [n for m in CITATION.finditer(s) for n in refs(m.group(1))]
        if nums:
            found.append((s, list(dict.fromkeys(nums))))
    return found


def support(sentence: str, passages: list[str]) -> list[float]:
    """For each passage: the best similarity of the sentence to the passage or one of its sentences."""
    pieces = [[p, *sentences(p)] for p in passages]
    flat = [strip_citations(sentence)] + [x for ps in pieces for x in ps]
    vectors = embed(flat)
    sims, out, i = vectors[1:] @ vectors[0], [], 0
    for ps in pieces:
        out.append(float(np.max(sims[i : i + len(ps)])))
        i += len(ps)
    return out


def check_citations(text: str, sources: list[Source], threshold: float = SUPPORT_THRESHOLD) -> list[CitationFlag]:
    """Flags for the citations in ``text`` that name no source or whose source does not support the sentence."""
    flags = []
    for sentence, nums in citations(text):
        known = [n for n in nums if 1 <= n <= len(sources)]
        for n in nums:
            if n not in known:
                flags.append(CitationFlag(ref=f"S{n}", sentence=sentence, problem="unknown source"))
        if not known or not strip_citations(sentence):
            continue
        for n, sim in zip(known, support(sentence, [sources[n - 1].text for n in known])):
            if sim < threshold:
                flags.append(CitationFlag(ref=f"S{n}", sentence=sentence, problem="unsupported", support=round(sim, 3)))
    return flags
