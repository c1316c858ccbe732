"""Eval sets (evals/sets.json): several question files, each asked over its own corpus, with its CI floor."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from assistant.config import Settings
from assistant.errors import InputFileError, SettingsError


@dataclass(frozen=True)
class EvalSet:
    """One entry of evals/sets.json: questions, the corpus they are asked over, the CI floor."""

    name: str
    file: Path
    corpus: tuple[Path, ...]
    floor: dict[str, float] = field(default_factory=dict)
    exclude: tuple[str, ...] = ()  # file names in the corpus folders that are not plans (a README)
    home: str = ""  # the askers' own plan (PLANQA_HOME_PLAN): the set's questions are written as its users


def load_manifest(path: Path | str) -> list[EvalSet]:
    """The eval sets; paths in the manifest are relative to the repository root (the manifest's parent's parent)."""
    path = Path(path)
    root = path.resolve().parent.parent
    try:
        entries = json.loads(path.read_text("utf-8"))["sets"]
        return [
            EvalSet(
                name=entry["name"],
                file=root / entry["file"],
                corpus=tuple(
                    root / c
                    for c in ([entry["corpus"]] if isinstance(entry["corpus"], str) else entry["corpus"])
                ),
                floor=dict(entry.get("floor") or {}),
                exclude=tuple(entry.get("exclude") or ()),
                home=entry.get("home") or "",
            )
            for entry in entries
        ]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputFileError(
            path, f"清单无法读取 / unreadable eval-set manifest ({exc}); see evals/sets.json"
        ) from exc


def pick_sets(sets: list[EvalSet], names: Sequence[str]) -> list[EvalSet]:
    known = {s.name: s for s in sets}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise SettingsError(
            f"未知的评测集 / unknown eval set: {', '.join(unknown)}; choose from {', '.join(known)}"
        )
    return [known[n] for n in names]


def corpus_key(eval_set: EvalSet) -> str:
    """A folder name per distinct corpus, so sets over the same documents share one index."""
    identity = json.dumps([[str(c.resolve()) for c in eval_set.corpus], sorted(eval_set.exclude)])
    names = "+".join(c.resolve().name for c in eval_set.corpus)
    return f"{names}-{hashlib.sha1(identity.encode()).hexdigest()[:8]}"


def corpus_folder(eval_set: EvalSet, workdir: Path) -> Path:
    """The set's corpus as one folder: the folder itself, or a fresh folder of symlinks to the documents
    when the set combines several folders or leaves files out (Settings takes a single corpus_dir)."""
    missing = [c for c in eval_set.corpus if not c.is_dir()]
    if missing:
        raise SettingsError(
            f"评测集 {eval_set.name} 的语料目录不存在 / corpus folder not found: {missing[0]}"
        )
    if len(eval_set.corpus) == 1 and not eval_set.exclude:
        return eval_set.corpus[0]
    folder = workdir / "corpus"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for source in eval_set.corpus:
        for path in sorted(source.iterdir()):
            if path.name in eval_set.exclude or not path.is_file():
                continue
            link = folder / path.name
            if link.exists():
                raise SettingsError(
                    f"评测集 {eval_set.name}: 两个目录都有 / two corpus folders both hold {path.name}"
                )
            link.symlink_to(path.resolve())
    return folder


def set_settings(eval_set: EvalSet, base: Settings, index_root: Path) -> Settings:
    """The base settings with the set's corpus and a per-corpus index folder under index_root."""
    workdir = index_root / corpus_key(eval_set)
    return replace(
        base, corpus_dir=corpus_folder(eval_set, workdir), index_dir=workdir / "index", home_plan=eval_set.home
    )
