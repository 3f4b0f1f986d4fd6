"""Every site of ../shared/UPSTREAM-AUDIT.md, rewritten without a hand edit.

The fixture tree (tests/fixtures/covo_audit, the project's own code) carries each construct the
audit lists, in the upstream's layout. Where a checkout of the real upstream is at hand
(``COVO_PORT_UPSTREAM``, or ``upstream/Covo-Audio`` after ``covo-port fetch``), the same checks run
on it too: counts and forms only, no upstream code in this file.
"""

from __future__ import annotations

import ast
import hashlib
import io
import os
import tokenize
from pathlib import Path

import pytest
from click.testing import CliRunner

from covo_port.cli import main
from covo_port.pipeline.manifest import Manifest

FIXTURE = Path(__file__).parent / "fixtures" / "covo_audit"
ROOT = Path(__file__).resolve().parents[1]

#: (audit site, file, construct that must be gone, NPU-safe form that must be there)
SITES = [
    ("example.sh CUDA_VISIBLE_DEVICES", "example.sh",
     "CUDA_VISIBLE_DEVICES=2,3", "ASCEND_RT_VISIBLE_DEVICES=2,3"),
    ("example.py model.to('cuda:0')", "example.py", 'lm.to("cuda:0")', 'lm.to("npu:0")'),
    ("example.py decode device cuda:1", "example.py",
     'speech_device="cuda:1"', 'speech_device="npu:1"'),
    ("example.py get_dialog_prompt device", "example.py",
     'device="cuda:0", first_round=False', 'device="npu:0", first_round=False'),
    ("example.py entry module imports torch_npu", "example.py", None, "import torch_npu"),
    ("torchaudio.load fallback", "covoaudio/modeling_covo_audio.py",
     "= torchaudio.load(path)", "soundfile.read("),
    ("hann window float32", "covoaudio/modeling_covo_audio.py",
     "torch.hann_window(N_FFT)\n", "torch.hann_window(N_FFT, dtype=torch.float32)"),
    ("stft input float32", "covoaudio/modeling_covo_audio.py",
     "torch.stft(audio,", "torch.stft(audio.float(),"),
    ("complex abs ** 2", "covoaudio/modeling_covo_audio.py",
     "[..., :-1].abs() ** 2", "spectrum[..., :-1].real ** 2 + spectrum[..., :-1].imag ** 2"),
    ("autocast decorators (attention)", "token2wav/modules/attentions/multihead_attention.py",
     'device_type="cuda"', 'device_type="npu"'),
    ("autocast decorator (utils)", "token2wav/modules/attentions/utils.py",
     'device_type="cuda"', 'device_type="npu"'),
    ("get_device_properties in __init__", "token2wav/modules/attentions/multihead_attention.py",
     "torch.cuda.get_device_properties", None),
    ("q.is_cuda branch", "token2wav/modules/attentions/multihead_attention.py",
     "q.is_cuda", "q.is_npu"),
    ("attribute named for CUDA", "token2wav/modules/attentions/multihead_attention.py",
     "self.cuda_kernels", "self.npu_kernels"),
    ("sdp_kernel", "token2wav/modules/attentions/multihead_attention.py",
     "torch.backends.cuda.sdp_kernel", "torch.nn.attention.sdpa_kernel("),
]


def apply(src: Path, out: Path, *extra: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["apply", str(src), "--out", str(out), "--no-patches",
                                       *extra])
    return result.exit_code, result.output


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and not {".git", ".covo-port"} & set(p.relative_to(root).parts)}


def code_without_comments(source: str) -> str:
    tokens = tokenize.generate_tokens(io.StringIO(source).readline)
    return " ".join(t.string for t in tokens if t.type != tokenize.COMMENT)


@pytest.fixture(scope="module")
def ported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("audit") / "out"
    code, output = apply(FIXTURE, out)
    assert code == 0, output
    return out


@pytest.mark.parametrize(("site", "path", "gone", "there"), SITES, ids=[s[0] for s in SITES])
def test_audit_site_rewritten(ported: Path, site: str, path: str, gone: str | None,
                              there: str | None) -> None:
    before = (FIXTURE / path).read_text()
    after = (ported / path).read_text()
    if gone is not None:
        assert gone in before, f"the fixture lost its {site} construct"
        assert gone not in after
    if there is not None:
        assert there in after


def test_port_is_whole_parse_valid_and_idempotent(ported: Path, tmp_path: Path) -> None:
    before, after = tree(FIXTURE), tree(ported)
    assert set(before) == set(after)
    changed = {p for p in before if before[p] != after[p]}
    manifest = Manifest.read(ported)
    assert changed == {f.path for f in manifest.files if f.status == "changed"}
    for path, data in after.items():
        if path.endswith(".py"):
            ast.parse(data)
    # the utility module with no CUDA construct is copied byte for byte
    assert "token2wav/utils/util.py" not in changed
    code, output = apply(ported, tmp_path / "again")
    assert code == 0, output
    assert tree(tmp_path / "again") == after


def upstream_checkout() -> Path | None:
    for candidate in (os.environ.get("COVO_PORT_UPSTREAM"), ROOT / "upstream" / "Covo-Audio"):
        if candidate and (Path(candidate) / "covoaudio").is_dir():
            return Path(candidate)
    return None


@pytest.mark.skipif(upstream_checkout() is None,
                    reason="no upstream checkout (set COVO_PORT_UPSTREAM or run covo-port fetch)")
def test_real_upstream_port_meets_the_audit(tmp_path: Path) -> None:
    src = upstream_checkout()
    assert src is not None
    before_hash = {p: hashlib.sha256(d).hexdigest() for p, d in tree(src).items()}
    out = tmp_path / "out"
    code, output = apply(src, out)
    assert code == 0, output
    assert {p: hashlib.sha256(d).hexdigest() for p, d in tree(src).items()} == before_hash
    after = tree(out)
    changed = {p for p, d in after.items() if tree(src)[p] != d}
    assert changed == {"example.py", "example.sh", "covoaudio/modeling_covo_audio.py",
                       "token2wav/modules/attentions/multihead_attention.py",
                       "token2wav/modules/attentions/utils.py"}
    assert len(after) - len(changed) >= 20
    assert b"ASCEND_RT_VISIBLE_DEVICES=4,5 python example.py" in after["example.sh"]
    for path, data in after.items():
        if path.endswith(".py"):
            ast.parse(data)
            # the residual scan: no `cuda` (any case), `sdp_kernel`,
            # `get_device_properties` left in code, comments excluded
            code_text = code_without_comments(data.decode()).lower()
            for word in ("cuda", "sdp_kernel", "get_device_properties"):
                assert word not in code_text, (path, word)
    assert b"CUDA" not in after["example.sh"]
    attention = after["token2wav/modules/attentions/multihead_attention.py"].decode()
    utils = after["token2wav/modules/attentions/utils.py"].decode()
    assert attention.count('device_type="npu"') + utils.count('device_type="npu"') == 3
    mel = after["covoaudio/modeling_covo_audio.py"].decode()
    assert ".abs() ** 2" not in mel and ".real ** 2 + " in mel and ".imag ** 2" in mel
    assert "dtype=torch.float32" in mel and ".float()" in mel
    code, output = apply(out, tmp_path / "again")
    assert code == 0, output
    assert tree(tmp_path / "again") == after
