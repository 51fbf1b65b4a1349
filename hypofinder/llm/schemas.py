"""One pydantic record, one JSON schema per structured-output mode: the adapters live here.

=============  ===============================  =============================================================
mode           sent as                          keywords kept / changed
=============  ===============================  =============================================================
json_schema    ``response_format`` json_schema  OpenAI strict mode (``strict: true``): every object gets
               (OpenAI, vLLM, Ollama)           ``additionalProperties: false`` and lists all its properties
                                                as required (optional ones stay nullable through ``anyOf``
                                                null); ``default``, ``minLength``/``maxLength``, ``title``
                                                of properties and other keywords strict mode rejects are
                                                dropped; ``pattern``, ``enum``, ``minItems``/``maxItems``,
                                                ``minimum``/``maximum`` kept
json_object    ``response_format`` json_object  the whole schema (llama.cpp turns it into a grammar; vLLM
               + ``schema`` (llama.cpp, vLLM)   guides by it); small integer ranges become ``enum`` because
                                                llama.cpp's converter ignores ``minimum``/``maximum``
none           the schema written into the      the whole schema; the answer is repaired and validated
               prompt
=============  ===============================  =============================================================
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

# What OpenAI's strict mode accepts (platform.openai.com, "Structured Outputs", supported schemas).
STRICT_KEYWORDS = {
    "type", "properties", "required", "additionalProperties", "items", "anyOf", "enum", "const", "$ref", "$defs",
    "description", "title", "pattern", "format", "minItems", "maxItems", "minimum", "maximum",
    "exclusiveMinimum", "exclusiveMaximum", "multipleOf",
}  # fmt: skip


def grammar_friendly(schema: Any) -> Any:
    """llama.cpp's schema->grammar ignores minimum/maximum: turn small integer ranges into enums."""
    if isinstance(schema, dict):
        out = {k: grammar_friendly(v) for k, v in schema.items()}
        if out.get("type") == "integer" and "minimum" in out and "maximum" in out:
            lo, hi = int(out.pop("minimum")), int(out.pop("maximum"))
            if hi - lo <= 200:
                out["enum"] = list(range(lo, hi + 1))
        return out
    if isinstance(schema, list):
        return [grammar_friendly(v) for v in schema]
    return schema


def strict(schema: Any, *, _in_properties: bool = False) -> Any:
    """``schema`` in the form OpenAI's strict mode accepts (see the module's table)."""
    if isinstance(schema, list):
        return [strict(v) for v in schema]
    if not isinstance(schema, dict):
        return schema
    if _in_properties:  # a name -> subschema map: every key is a property name
        return {k: strict(v) for k, v in schema.items()}
    out = {}
    for key, value in schema.items():
        if key not in STRICT_KEYWORDS:
            continue
        out[key] = strict(value, _in_properties=key in ("properties", "$defs"))
    if out.get("type") == "object" or "properties" in out:
        out["additionalProperties"] = False
        out["required"] = list(out.get("properties", {}))
    if "$ref" in out and len(out) > 1:  # strict mode wants a bare $ref
        out = {"$ref": out["$ref"]}
    return out


def strict_problems(schema: Any, where: str = "$") -> list[str]:
    """Where ``schema`` breaks OpenAI's strict-mode rules (empty: it is accepted)."""
    problems: list[str] = []
    if isinstance(schema, list):
        for i, v in enumerate(schema):
            problems += strict_problems(v, f"{where}[{i}]")
        return problems
    if not isinstance(schema, dict):
        return problems
    for key in schema:
        if key not in STRICT_KEYWORDS:
            problems.append(f"{where}: unsupported keyword {key!r}")
    if schema.get("type") == "object" or "properties" in schema:
        if schema.get("additionalProperties") is not False:
            problems.append(f"{where}: additionalProperties is not false")
        if set(schema.get("required", [])) != set(schema.get("properties", {})):
            problems.append(f"{where}: not every property is required")
    for key in ("properties", "$defs"):
        for name, sub in (schema.get(key) or {}).items():
            problems += strict_problems(sub, f"{where}.{key}.{name}")
    for key in ("items", "anyOf"):
        if key in schema:
            problems += strict_problems(schema[key], f"{where}.{key}")
    return problems


def response_format(mode: str, schema: type[BaseModel]) -> dict | None:
    """The ``response_format`` for ``mode`` (None for 'none': the schema goes into the prompt)."""
    js = schema.model_json_schema()
    if mode == "json_schema":
        name = js.get("title", "answer")
        return {"type": "json_schema", "json_schema": {"name": name, "strict": True, "schema": strict(js)}}
    if mode == "json_object":
        return {"type": "json_object", "schema": grammar_friendly(js)}
    return None
