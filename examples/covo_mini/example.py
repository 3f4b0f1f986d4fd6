"""Two-turn spoken dialogue with covo_mini.

Turn 0 answers ./testdata/003000298.wav; turn 1 answers ./testdata/003000297.wav
on top of the KV cache of turn 0. In mode ``a2ta`` the speech tokens of each
answer are also rendered to ``./Decoded_audios/<session>/turn_<n>.wav``.
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

import soundfile
import torch
from covoaudio import CovoAudioConfig, CovoAudioForCausalLM, get_dialog_prompt
from covoaudio.modeling_covo_audio import WindowedRepetitionPenaltyLogitsProcessor
from safetensors.torch import load_file
from token2wav.decode import decode, init_model
from transformers import AutoConfig, AutoModel, LogitsProcessorList, Qwen2TokenizerFast

CODEBOOK_SIZE = 16384  # speech tokens follow the text vocabulary


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser("covo-mini demo")
    parser.add_argument("--model_dir", type=str, required=True,
                        help="folder with config.json, *.safetensors and the tokenizer")
    parser.add_argument("--mode", type=str, default="a2ta",
                        help="a2t: answer in text; a2ta: answer in text and speech")
    # the three options below only matter for a2ta
    parser.add_argument("--decode_model_config", type=str, default=None,
                        help="token2wav config (JSON)")
    parser.add_argument("--decode_load_path", type=str, default=None,
                        help="token2wav weights (model.pt, global_mean_var.npy beside it)")
    parser.add_argument("--prompt_dir", type=str, default=None,
                        help="folder with the voice prompt .npy files")
    return parser


def report_turn(
    tokens: torch.Tensor,
    tokenizer: Any,
    turn: int,
    speech: dict[str, Any] | None,
) -> None:
    """Print the text part of an answer and, when ``speech`` is set, write its audio."""
    text_vocab = len(tokenizer)
    text = tokenizer.decode(tokens[tokens < text_vocab], skip_special_tokens=True)
    print(f"Decoded text: {text}")
    if speech is None:
        return

    codes = [c for c in (tokens - text_vocab).cpu().tolist() if 0 <= c <= CODEBOOK_SIZE]
    started = time.time()
    rendered = decode(
        llm_tokens=codes,
        prompt_dir=speech["prompt_dir"],
        model=speech["model"],
        config=speech["config"],
    )
    print(f"Audio decoding time: {time.time() - started:.2f} seconds")
    path = os.path.join(speech["out_dir"], f"turn_{turn}.wav")
    soundfile.write(path, rendered["wav"], rendered["sample_rate"])


def main() -> None:
    AutoConfig.register(CovoAudioConfig.model_type, CovoAudioConfig)
    AutoModel.register(config_class=CovoAudioConfig, model_class=CovoAudioForCausalLM)
    CovoAudioConfig.register_for_auto_class()  # AutoConfig
    CovoAudioForCausalLM.register_for_auto_class()  # AutoModel
    args = get_parser().parse_args()
    model_dir = args.model_dir

    print("Loading covo_mini...")
    started = time.time()
    config = CovoAudioConfig.from_pretrained(args.model_dir)
    model = AutoModel.from_config(config)
    model = model.to("cuda:0")
    model.eval()
    print(f"Model initialization time: {time.time() - started:.2f} seconds")

    started = time.time()
    for shard in sorted(f for f in os.listdir(model_dir) if f.endswith(".safetensors")):
        weights = load_file(os.path.join(model_dir, shard))
        model.load_state_dict(weights, strict=False)
    print(f"Weight loading time: {time.time() - started:.2f} seconds")

    tokenizer = Qwen2TokenizerFast.from_pretrained(args.model_dir)
    if args.mode == "a2ta":
        stop_id = tokenizer.convert_tokens_to_ids("<|im_end|>")
    elif args.mode == "a2t":
        stop_id = tokenizer.convert_tokens_to_ids("<|endoftext|>")
    else:
        print(f"Unknown mode {args.mode!r}: use a2t or a2ta")
        return

    speech = None
    if args.mode == "a2ta":
        print("Loading the token2wav decoder...")
        t2w_model, t2w_config = init_model(args, decode_device="cuda:1")
        session = time.strftime("%Y%m%d_%H%M%S", time.gmtime())
        out_dir = f"./Decoded_audios/{session}"
        os.makedirs(out_dir, exist_ok=True)
        speech = {"model": t2w_model, "config": t2w_config,
                  "prompt_dir": args.prompt_dir, "out_dir": out_dir}

    # a mild penalty on recently used tokens keeps the speech tokens from looping
    processors = LogitsProcessorList(
        [WindowedRepetitionPenaltyLogitsProcessor(penalty=1.05, window_size=8)]
    )

    # ---- turn 0 -------------------------------------------------------------
    segments, input_ids, attention_mask = get_dialog_prompt(
        audio="./testdata/003000298.wav",
        tokenizer=tokenizer,
        # the LLM and the audio encoder share the first device
        device="cuda:0",
    )
    prompt_len = input_ids.shape[1]
    started = time.time()
    result = model.generate(
        input_ids=input_ids,
        wavs=segments,
        attention_mask=attention_mask,
        max_new_tokens=2048,
        eos_token_id=stop_id,
        pad_token_id=tokenizer.pad_token_id,
        return_dict_in_generate=True,
        logits_processor=processors,
        repetition_penalty=1.05,
    )
    print(f"Generation time (round 0): {time.time() - started:.2f} seconds")
    history = result.past_key_values
    report_turn(result.sequences[0, prompt_len:], tokenizer, 0, speech)

    # ---- turn 1, continuing from the cache of turn 0 -------------------------
    segments, input_ids, attention_mask = get_dialog_prompt(
        audio="./testdata/003000297.wav", tokenizer=tokenizer, device="cuda:0", first_round=False
    )
    seen = history.get_seq_length()
    full_mask = torch.ones(
        (1, seen + attention_mask.shape[1]),
        dtype=attention_mask.dtype,
        device=attention_mask.device,
    )
    prompt_len = input_ids.shape[1]
    started = time.time()
    result = model.generate(
        input_ids=input_ids,
        wavs=segments,
        attention_mask=full_mask,
        max_new_tokens=2048,
        eos_token_id=stop_id,
        pad_token_id=tokenizer.pad_token_id,
        past_key_values=history,
        return_dict_in_generate=True,
        logits_processor=processors,
        repetition_penalty=1.05,
        do_sample=True,
        temperature=0.5,
        top_p=0.9,
        top_k=50,
    )
    print(f"Generation time (round 1): {time.time() - started:.2f} seconds")
    report_turn(result.sequences[0, prompt_len:], tokenizer, 1, speech)


if __name__ == "__main__":
    main()
