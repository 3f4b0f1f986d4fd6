"""Data beside the tree: the two test clips and the token2wav voice prompt, found in OUT, in the
source tree or in the upstream data beside the checkout (the clips synthesised where none is)."""

from __future__ import annotations

import os
from pathlib import Path

from covo_port.pipeline.manifest import Manifest
from covo_port.verify.profiles.covo_audio import clips
from covo_port.verify.profiles.covo_audio.options import PROMPT_FILES, VerifyOptions


def upstream_data_dirs() -> list[Path]:
    """``$COVO_PORT_UPSTREAM_DATA``, then ``shared/upstream-data`` beside the project checkout."""
    dirs = []
    if os.environ.get("COVO_PORT_UPSTREAM_DATA"):
        dirs.append(Path(os.environ["COVO_PORT_UPSTREAM_DATA"]))
    checkout = Path(__file__).resolve().parents[4]  # covo_port/verify/profiles/covo_audio/
    dirs.append(checkout.parent / "shared" / "upstream-data")
    return dirs


def _first_with(rel: str, names: tuple[str, ...], out: Path, manifest: Manifest
                ) -> tuple[Path, str] | None:
    candidates = [(out / rel, "OUT"), (Path(manifest.source) / rel, "the source tree")]
    candidates += [(d / rel, "upstream data") for d in upstream_data_dirs()]
    for folder, origin in candidates:
        if all((folder / n).is_file() for n in names):
            return folder, origin
    return None


def find_test_audio(out: Path, manifest: Manifest) -> tuple[Path, str] | None:
    """The folder holding both test clips: OUT's testdata/, the source's, the upstream data's."""
    return _first_with("testdata", clips.ROUND_AUDIO, out, manifest)


def find_voice_prompt(out: Path, manifest: Manifest) -> tuple[Path, str] | None:
    return _first_with("token2wav/prompt", PROMPT_FILES, out, manifest)


def looked_in(rel: str, out: Path, manifest: Manifest) -> list[Path]:
    return [out / rel, Path(manifest.source) / rel] + [d / rel for d in upstream_data_dirs()]


def clip_folder(opts: VerifyOptions, manifest: Manifest, work: Path) -> tuple[Path, str]:
    """The folder of the two test clips, and where it came from: OUT's testdata/, the source
    tree's, the upstream data beside the checkout, else two clips synthesised into ``work``
    (deterministic: the same bytes on every run), so that verify needs no data of its own."""
    found = find_test_audio(opts.out, manifest)
    if found is not None:
        return found
    folder = work / "testdata"
    clips.synthesise(folder)
    return folder, "synthesised by covo-port (no test clips in " + ", ".join(
        str(p) for p in looked_in("testdata", opts.out, manifest)) + ")"
