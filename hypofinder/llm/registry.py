"""The provider registry: which chat models hypofinder can talk to, and what each can do.

In the spirit of simonw/llm's model registration, every provider is one ``Provider`` entry: its names,
whether it runs in-process, its context window, the structured-output modes it supports (tried in
order, the working one discovered once per endpoint) and how to build its LangChain chat model.
``local``, ``openai`` (any OpenAI-compatible server) and ``fake`` are registered here; tests and plug-ins
add their own with ``register``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from hypofinder.errors import BadInputError

if TYPE_CHECKING:
    from langchain_core.language_models.chat_models import BaseChatModel

    from hypofinder.settings import RunConfig

# Structured-output modes, best first:
#   json_schema  OpenAI-style response_format (OpenAI, vLLM, Ollama)
#   json_object  response_format json_object + "schema" (llama.cpp: a decoding grammar)
#   none         the schema written into the prompt; the answer repaired and validated
MODES = ("json_schema", "json_object", "none")


@dataclass(frozen=True)
class ModelSpec:
    """Which model answers: provider + name (+ endpoint for servers). Holds no secret."""

    provider: str
    name: str
    base_url: str | None = None
    registered: Provider | None = field(default=None, compare=False, repr=False)

    @property
    def entry(self) -> Provider:
        """The registry entry (kept from resolution, so a provider unregistered later still answers)."""
        return self.registered or get(self.provider)

    @property
    def base_url_host(self) -> str | None:
        if not self.base_url:
            return "api.openai.com" if not self.entry.in_process else None
        parsed = urlparse(self.base_url)
        return parsed.netloc or parsed.path

    @property
    def is_server(self) -> bool:
        return not self.entry.in_process

    @property
    def capability(self) -> str:
        """The model's profile (hypofinder.profiles): a served model the registry knows by name ('smollm2',
        'qwen2.5-coder-1.5b') keeps its own; any other takes its provider's."""
        known = provider_named(self.name) if self.is_server else None
        return (known if known is not None and known.in_process else self.entry).profile

    @property
    def cache_key(self) -> str:
        return f"{self.provider}:{self.name}@{self.base_url_host or ''}"


@dataclass(frozen=True)
class Provider:
    """One way of answering: how to recognise it, what it supports, how to build its chat model."""

    name: str
    description: str
    build: Callable[[ModelSpec, RunConfig], BaseChatModel]
    aliases: tuple[str, ...] = ()
    in_process: bool = True
    context_window: int = 8192
    structured_output: tuple[str, ...] = ("json_object",)
    model_name: str | None = None  # the fixed model an in-process provider runs
    serves_any_name: bool = False  # a server: any model name, given a base URL (or OPENAI_API_KEY)
    # 'tiny' (one-sentence grammar-shaped answers, 3 steps) or 'capable' (free prose, 3-6 steps, revision and
    # tournament): hypofinder.profiles; unset: capable for servers, tiny in-process. A run may override it
    # (RunConfig.capability)
    capability: str | None = None
    options: dict = field(default_factory=dict)  # provider-specific defaults (e.g. rounds, tournament)
    available: Callable[[], bool] = lambda: True  # installed here (an optional model's file may be missing)

    @property
    def profile(self) -> str:
        return self.capability or ("tiny" if self.in_process else "capable")

    def names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)

    def describe(self) -> dict:
        return {
            "name": self.name,
            "provider": self.name,
            "model": self.model_name or "(any served model)",
            "aliases": list(self.aliases),
            "in_process": self.in_process,
            "context_window": self.context_window,
            "structured_output": list(self.structured_output),
            "capability": self.profile,
            "description": self.description,
        }


_REGISTRY: dict[str, Provider] = {}


def register(provider: Provider) -> Provider:
    """Add (or replace) a provider; its name and aliases become valid ``--model`` values."""
    _REGISTRY[provider.name] = provider
    return provider


def unregister(name: str) -> None:
    _REGISTRY.pop(name, None)


def get(name: str) -> Provider:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise BadInputError(f"unknown provider {name!r}") from None


def all_providers() -> list[Provider]:
    return list(_REGISTRY.values())


def provider_named(name: str) -> Provider | None:
    """The registered provider that answers to ``name`` (any case), or None."""
    low = name.lower()
    for p in _REGISTRY.values():
        if low in (n.lower() for n in p.names()):
            return p
    return None


def resolve(model: str | None, base_url: str | None = None) -> ModelSpec:
    """Turn the user's ``--model`` / ``--base-url`` into a ModelSpec, or one clear error line."""
    name = (model or "local").strip()
    entry = provider_named(name)
    server = next((p for p in _REGISTRY.values() if p.serves_any_name), None)
    if base_url:
        parsed = urlparse(base_url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise BadInputError(f"base URL must be an http(s) URL, got {base_url!r}")
        if entry is not None and entry.in_process and name.lower() == entry.name:
            # 'local' / 'fake' name in-process providers; an alias (e.g. 'smollm2') may be what a server serves
            raise BadInputError(f"the {entry.name} model runs in-process: it takes no base URL")
        if server is None:
            raise BadInputError("no provider for served models is registered")
        return ModelSpec(server.name, name, base_url.rstrip("/"), server)
    if entry is not None and entry.in_process:
        return ModelSpec(entry.name, entry.model_name or entry.name, None, entry)
    if server is not None and os.environ.get("OPENAI_API_KEY"):
        return ModelSpec(server.name, name, None, server)
    choices = ", ".join(f"'{p.name}'" for p in _REGISTRY.values() if p.in_process)
    raise BadInputError(
        f"unknown model {name!r}: use {choices}, or a served model name with --base-url "
        "(OpenAI-compatible; key from OPENAI_API_KEY)"
    )


# --------------------------------------------------------------------------- built-in providers


def _build_local(spec: ModelSpec, run: RunConfig):
    from hypofinder.llm.providers import ChatLocalLlama, local_model_path
    from hypofinder.settings import settings

    cfg = settings()
    return ChatLocalLlama(
        model_path=local_model_path(),
        n_ctx=cfg.local_n_ctx,
        n_threads=cfg.local_n_threads,
        temperature=run.temperature,
        seed=run.seed,
    )


def _build_assembled(spec: ModelSpec, run: RunConfig):
    from hypofinder.llm.assembled import get
    from hypofinder.llm.providers import ChatLocalLlama
    from hypofinder.settings import settings

    return ChatLocalLlama(
        model_path=str(get(spec.entry.model_name).require()),
        n_ctx=spec.entry.context_window,
        n_threads=settings().local_n_threads,
        temperature=run.temperature,
        seed=run.seed,
        **spec.entry.options.get("sampling", {}),
    )


def _assembled_present(name: str) -> bool:
    from hypofinder.llm.assembled import get

    model = get(name)
    return model.path().is_file() and model.path().stat().st_size == model.size


def _build_openai(spec: ModelSpec, run: RunConfig):
    from langchain_openai import ChatOpenAI
    from langchain_openai.chat_models.base import BaseChatOpenAI

    # ChatOpenAI renames max_tokens to max_completion_tokens, which OpenAI wants but llama-cpp-python's server
    # ignores (it then decodes until the context is full: minutes per answer on 2 cores); any other
    # OpenAI-compatible server (llama.cpp, vLLM, Ollama) reads max_tokens, which BaseChatOpenAI sends
    official = spec.base_url is None or "api.openai.com" in spec.base_url
    return (ChatOpenAI if official else BaseChatOpenAI)(
        model=spec.name,
        base_url=spec.base_url,
        api_key=os.environ.get("OPENAI_API_KEY") or "not-needed",
        temperature=run.temperature,
        seed=run.seed,
        timeout=run.timeout_s,
        max_retries=0,  # transport retries: Runnable.with_retry in hypofinder.llm.structured
    )


def _build_fake(spec: ModelSpec, run: RunConfig):
    from hypofinder.llm.providers import FakeChatModel

    return FakeChatModel()


LOCAL_MODEL_ID = "SmolLM2-135M-Instruct.Q4_1"

register(
    Provider(
        name="local",
        aliases=("smollm2", "smollm2-135m", "smollm2-135m-instruct"),
        model_name=LOCAL_MODEL_ID,
        description="SmolLM2-135M-Instruct (GGUF, embedded) run in-process by llama.cpp; JSON schema as a grammar",
        build=_build_local,
        in_process=True,
        context_window=2048,
        structured_output=("json_object",),
        # tiny (in-process default): no revision round, no tournament unless asked; the cold-ask goal (<= 30 s on
        # 2 cores) has no room for a second generate+review pass (README, "Critique, revision and the tournament")
    )
)
for _size in ("0.5b", "1.5b"):
    register(
        Provider(
            name=f"qwen-{_size}",
            aliases=(f"qwen2.5-coder-{_size}",),
            model_name=f"qwen2.5-coder-{_size}",
            description=f"Qwen2.5-Coder-{_size.upper()}-Instruct (GGUF, `make install-qwen`) run in-process by llama.cpp",
            build=_build_assembled,
            in_process=True,
            context_window=4096,
            structured_output=("json_object",),
            capability="capable",
            available=lambda name=f"qwen2.5-coder-{_size}": _assembled_present(name),
            # Qwen's own sampling advice (repeat penalty 1.05, top_p 0.8), not the 135M model's 1.3
            options={"sampling": {"repeat_penalty": 1.05, "top_p": 0.8, "min_p": 0.0, "top_k": 20}},
        )
    )
register(
    Provider(
        name="openai",
        aliases=(),
        serves_any_name=True,
        description="any OpenAI-compatible server (OpenAI, vLLM, Ollama, llama.cpp server): --model NAME --base-url URL",
        build=_build_openai,
        in_process=False,
        context_window=16384,
        structured_output=MODES,
    )
)
register(
    Provider(
        name="fake",
        aliases=("fake-debug", "fake llm (debug)"),
        model_name="fake",
        description="deterministic, schema-driven answers for tests and the app's debug choice",
        build=_build_fake,
        in_process=True,
        context_window=8192,
        structured_output=("json_object",),
        options={"rounds": 1, "tournament": True},  # the debug model runs every stage
    )
)
