"""The tiny Covo-Audio checkpoint that ``verify`` runs when no ``--model-dir`` is given.

Randomly initialised, seeded (two builds are byte-identical), and laid out exactly like the real
checkpoint: ``config.json``, safetensors shards, a Qwen2 tokenizer with the special tokens at
their real ids, and ``token2wav/`` (``model.pt``, ``config.json``, ``global_mean_var.npy``) plus
the voice prompt the decoder needs. The model classes are OUT's own: :func:`build` runs inside
the verify subprocess, with OUT on ``sys.path``; nothing of Covo-Audio is copied here.

What makes a random model useful: the vocabulary keeps its real size (168,055 ids: the text
tokenizer's 151,668 then the 16,384 speech codes), so the hard-coded ``<|cAUDIO|>`` id 151,666 is
valid and generated ids above the text vocabulary are speech codes that token2wav decodes. The
output layer is initialised so that generation produces both kinds: its rows for a few
printable characters and for the speech codes are random, every other row (the end-of-turn
tokens included) is zero and never wins, so each round generates exactly ``max_new_tokens``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

from covo_port.pipeline.manifest import MANIFEST_DIR, MANIFEST_NAME

#: Bump when the builder changes what it writes: cached builds of an older version are ignored.
TINY_VERSION = 2
SEED = 0
DONE_FILE = "tiny.json"

TEXT_VOCAB = 151668  # len(tokenizer): byte-level pieces, fillers, the special tokens
SPEECH_CODES = 16384  # token2wav's codebook; speech code c is generated as TEXT_VOCAB + c
SPECIAL_TOKENS = {  # the ids Covo-Audio's code and checkpoints rely on
    "<|endoftext|>": 151643,
    "<|im_start|>": 151644,
    "<|im_end|>": 151645,
    "<|begofcAUDIO|>": 151665,
    "<|cAUDIO|>": 151666,
    "<|endofcAUDIO|>": 151667,
}
TEXT_CHARS = "abcdefghijklmnopqrstuvwxyz "  # the text the tiny model "says"
TEXT_LOGIT_SCALE = 2.0  # 27 text rows compete with 16,384 speech rows: give them a chance
PROMPT_TOKENS = 24  # length of the generated voice prompt

#: Upper bounds for the widths in token2wav/config.json (a key that is absent stays absent),
#: and for the flow-matching steps: each is one more pass of the flow model, through the same
#: operators. (The vocoder also keeps one residual block per upsampling stage: see
#: :func:`shrink_token2wav_config`.) Fewer operators make the emulated decode fast: every one
#: of them is checked, and costs milliseconds there.
TOKEN2WAV_LIMITS: dict[tuple[str, ...], int] = {
    ("model", "token2latent", "token_input_dim"): 32,
    ("model", "token2latent", "z_dim"): 16,
    ("model", "token2latent", "spkr_embed_dim"): 32,
    ("model", "token2latent", "transformer", "num_layers"): 2,
    ("model", "token2latent", "transformer", "hidden_size"): 64,
    ("model", "token2latent", "transformer", "ffn_hidden_size"): 128,
    ("model", "token2latent", "transformer", "num_heads"): 4,
    ("model", "wavegan", "upsample_initial_channel"): 128,
    ("model", "wavegan", "flow_hidden_channels"): 16,
    ("inference", "s_steps"): 2,
}


def cache_root() -> Path:
    """``$COVO_PORT_CACHE``, else ``$XDG_CACHE_HOME/covo-port``, else ``~/.cache/covo-port``."""
    if os.environ.get("COVO_PORT_CACHE"):
        return Path(os.environ["COVO_PORT_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "covo-port"


def cache_dir(out: Path) -> Path:
    """Where the tiny model for OUT lives: keyed by OUT's manifest (which hashes every file)."""
    digest = hashlib.sha256(f"tiny-v{TINY_VERSION}-seed{SEED}\n".encode())
    digest.update((out / MANIFEST_DIR / MANIFEST_NAME).read_bytes())
    return cache_root() / "verify" / f"tiny-{digest.hexdigest()[:16]}"


def is_built(path: Path, token2wav: bool) -> bool:
    """A complete build (of the LLM part, and of token2wav/ where asked): each part's summary
    file is written last."""
    return (path / DONE_FILE).is_file() and (
        not token2wav or (path / "token2wav" / DONE_FILE).is_file())


def summary(path: Path) -> dict[str, Any]:
    """What the builds in ``path`` wrote about themselves."""
    parts = {"llm": path / DONE_FILE, "token2wav": path / "token2wav" / DONE_FILE}
    return {k: json.loads(p.read_text()) for k, p in parts.items() if p.is_file()}


def shrink_token2wav_config(config: dict[str, Any]) -> dict[str, Any]:
    """OUT's token2wav config with every width capped by :data:`TOKEN2WAV_LIMITS`."""
    shrunk = json.loads(json.dumps(config))
    for keys, limit in TOKEN2WAV_LIMITS.items():
        node = shrunk
        for key in keys[:-1]:
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, dict) and isinstance(node.get(keys[-1]), int):
            node[keys[-1]] = min(node[keys[-1]], limit)
    model = shrunk.get("model", {})
    wavegan = model.get("wavegan", {})
    z_dim = model.get("token2latent", {}).get("z_dim")
    if isinstance(wavegan.get("latent_dim"), int) and isinstance(z_dim, int):
        wavegan["latent_dim"] = z_dim  # the vocoder reads the flow model's latents
    if isinstance(wavegan.get("downsample_channels"), list):
        wavegan["downsample_channels"] = [min(c, 16) for c in wavegan["downsample_channels"]]
    for key in ("resblock_kernel_sizes", "resblock_dilation_sizes"):  # blocks run in parallel,
        if isinstance(wavegan.get(key), list) and wavegan[key]:  # alike: one is enough
            wavegan[key] = wavegan[key][:1]
    return shrunk


def build(dest: Path, out: Path, token2wav: bool) -> dict[str, Any]:
    """Write what is missing of the tiny checkpoint for OUT into ``dest``: the LLM and its
    tokenizer, and with ``token2wav`` the decoder (a2t never builds OUT's token2wav classes).

    Runs with OUT on ``sys.path``. Returns :func:`summary`.
    """
    if not (dest / DONE_FILE).is_file():
        _write_atomically(dest, lambda work: _build_llm(work, _build_tokenizer(work)))
    if token2wav and not (dest / "token2wav" / DONE_FILE).is_file():
        config = out / "token2wav" / "config.json"
        _write_atomically(dest / "token2wav", lambda work: _build_token2wav(work, config))
    return summary(dest)


def _write_atomically(dest: Path, write: Any) -> None:
    """``write(folder)`` into a temporary sibling of ``dest``, then rename it into place."""
    work = dest.with_name(f"{dest.name}.tmp-{os.getpid()}")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        built = {"version": TINY_VERSION, "seed": SEED, **write(work)}
        (work / DONE_FILE).write_text(json.dumps(built, indent=2) + "\n")
        try:
            work.rename(dest)
        except OSError:  # built meanwhile by another run: keep that one
            if not (dest / DONE_FILE).is_file():
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _build_tokenizer(dest: Path) -> Any:
    """A byte-level BPE that ``Qwen2TokenizerFast`` loads, special tokens at their real ids."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast, Qwen2TokenizerFast

    pieces = sorted(pre_tokenizers.ByteLevel.alphabet())
    merges = _cjk_merges()
    for left, right in merges:
        if left + right not in pieces:
            pieces.append(left + right)
    vocab = {piece: i for i, piece in enumerate(pieces)}
    first_special = min(SPECIAL_TOKENS.values())
    vocab.update({f"<|filler_{i}|>": i for i in range(len(vocab), first_special)})
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    by_id = {i: name for name, i in SPECIAL_TOKENS.items()}
    specials = [by_id.get(i, f"<|reserved_{i}|>") for i in range(first_special, TEXT_VOCAB)]
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in specials])
    PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>"
    ).save_pretrained(str(dest))

    loaded = Qwen2TokenizerFast.from_pretrained(str(dest))
    got = dict(zip(SPECIAL_TOKENS, loaded.convert_tokens_to_ids(list(SPECIAL_TOKENS)),
                   strict=True))
    if got != SPECIAL_TOKENS or len(loaded) != TEXT_VOCAB:
        raise RuntimeError(f"tiny tokenizer: special ids {got}, {len(loaded)} tokens; "
                           f"expected {SPECIAL_TOKENS}, {TEXT_VOCAB}")
    return loaded


def _byte_chars() -> dict[int, str]:
    """The byte-level BPE alphabet: the character that stands for each byte (GPT-2's table)."""
    shown = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1),
             *range(ord("®"), ord("ÿ") + 1)]
    chars = {b: chr(b) for b in shown}
    for n, b in enumerate(b for b in range(256) if b not in chars):
        chars[b] = chr(256 + n)
    return chars


def _cjk_merges() -> list[tuple[str, str]]:
    """BPE merges that make every CJK ideograph and CJK/full-width punctuation mark one token,
    as in Qwen2's vocabulary: without them each is three byte tokens, and the upstream's
    Chinese system prompt (hence every prefill) would be twice as long as with the real one."""
    chars = _byte_chars()
    ranges = ((0x3000, 0x303F), (0x4E00, 0x9FFF), (0xFF00, 0xFFEF))
    prefixes: dict[tuple[str, str], None] = {}
    whole: list[tuple[str, str]] = []
    for low, high in ranges:
        for code in range(low, high + 1):
            a, b, c = (chars[x] for x in chr(code).encode())
            prefixes[(a, b)] = None
            whole.append((a + b, c))
    return [*prefixes, *whole]


def _build_llm(dest: Path, tokenizer: Any) -> dict[str, Any]:
    """config.json and two safetensors shards of a 2 x 64 Qwen2 + 2 x 64 Whisper model."""
    import torch
    from covoaudio.configuration_covo_audio import CovoAudioConfig
    from covoaudio.modeling_covo_audio import CovoAudioForCausalLM
    from safetensors.torch import save_file
    from transformers import Qwen2Config, WhisperConfig

    real = CovoAudioConfig()  # OUT's defaults: the real vocabulary, mel bins, token ids
    real_llm, real_encoder = real.llm_config, real.encoder_config
    vocab_size = int(real_llm.vocab_size)
    if vocab_size != TEXT_VOCAB + SPEECH_CODES + 3:
        raise RuntimeError(f"OUT's CovoAudioConfig has vocab_size {vocab_size}; the tiny model "
                           f"expects {TEXT_VOCAB + SPEECH_CODES + 3}")
    llm = Qwen2Config(
        architectures=["Qwen2ForCausalLM"], vocab_size=vocab_size, hidden_size=64,
        intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
        max_position_embeddings=32768, rms_norm_eps=real_llm.rms_norm_eps,
        bos_token_id=real_llm.bos_token_id, eos_token_id=real_llm.eos_token_id,
        tie_word_embeddings=False, use_cache=True,
    )
    encoder = WhisperConfig(
        d_model=64, encoder_layers=2, encoder_attention_heads=4, encoder_ffn_dim=128,
        decoder_layers=1, decoder_attention_heads=4, decoder_ffn_dim=128,
        num_mel_bins=real_encoder.num_mel_bins,
        max_source_positions=real_encoder.max_source_positions,
        dropout=0.0, attention_dropout=0.0, activation_dropout=0.0,
    )
    config = CovoAudioConfig(llm_config=llm, encoder_config=encoder)
    torch.manual_seed(SEED)
    model = CovoAudioForCausalLM(config)
    _shape_output_layer(model.get_output_embeddings().weight, tokenizer)
    model = model.to(torch.bfloat16)
    config.save_pretrained(str(dest))

    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    names = sorted(state)  # two shards, like the real checkpoint's several: the LLM, the rest
    shards = [[n for n in names if n.startswith("llm.")],
              [n for n in names if not n.startswith("llm.")]]
    for i, shard in enumerate(shards, 1):
        name = f"model-{i:05d}-of-{len(shards):05d}.safetensors"
        save_file({n: state[n] for n in shard}, str(dest / name))
    return {"parameters": sum(v.numel() for v in state.values()), "vocab_size": vocab_size,
            "hidden_size": llm.hidden_size, "layers": llm.num_hidden_layers,
            "encoder_d_model": encoder.d_model, "encoder_layers": encoder.encoder_layers}


def _shape_output_layer(weight: Any, tokenizer: Any) -> None:
    """Random rows for the text characters and the speech codes, zero rows for the rest."""
    import torch

    generator = torch.Generator().manual_seed(SEED + 1)
    text_ids = sorted({i for ch in TEXT_CHARS for i in tokenizer.encode(ch)})
    speech_ids = torch.arange(TEXT_VOCAB, TEXT_VOCAB + SPEECH_CODES)
    shaped = torch.zeros_like(weight)
    hidden = weight.shape[1]
    shaped[speech_ids] = torch.randn(SPEECH_CODES, hidden, generator=generator)
    shaped[text_ids] = TEXT_LOGIT_SCALE * torch.randn(len(text_ids), hidden, generator=generator)
    with torch.no_grad():
        weight.copy_(shaped)


def _build_token2wav(dest: Path, out_config: Path) -> dict[str, Any]:
    """token2wav/: the shrunk config, random weights, latent statistics and a voice prompt."""
    import numpy as np
    import torch
    from token2wav.models import get_tokenizer_wrapper
    from token2wav.utils.util import JsonHParams

    config = shrink_token2wav_config(json.loads(out_config.read_text()))
    (dest / "config.json").write_text(json.dumps(config, indent=4) + "\n")
    hparams = JsonHParams(**config)
    torch.manual_seed(SEED)
    decoder = get_tokenizer_wrapper(hparams.model.type, hparams.model)
    state = decoder.state_dict()
    torch.save(state, dest / "model.pt")

    flow = config["model"]["token2latent"]
    z_dim, speaker_dim = flow["z_dim"], flow["spkr_embed_dim"]
    upsample = flow.get("upsample_factor", 1)
    rng = np.random.default_rng(SEED)
    stats = np.stack([rng.normal(0.0, 0.1, z_dim), rng.uniform(0.5, 1.5, z_dim)])
    np.save(dest / "global_mean_var.npy", stats.astype(np.float32))
    prompt = dest / "prompt"
    prompt.mkdir()
    np.save(prompt / "prompt_token.npy", rng.integers(0, SPEECH_CODES, (1, PROMPT_TOKENS)))
    latent = rng.normal(size=(1, PROMPT_TOKENS * upsample, z_dim)).astype(np.float32)
    np.save(prompt / "prompt_latent.npy", latent)
    np.save(prompt / "speaker_embed.npy", rng.normal(size=(1, speaker_dim)).astype(np.float32))
    return {"parameters": sum(v.numel() for v in state.values()), "z_dim": z_dim,
            "hidden_size": flow.get("transformer", {}).get("hidden_size")}
