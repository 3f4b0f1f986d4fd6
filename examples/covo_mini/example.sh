#!/usr/bin/env bash
# Two-turn demo of covo_mini. CUDA_VISIBLE_DEVICES selects the GPUs: the LLM
# runs on the first visible one, the token2wav decoder on the second.
set -e

model_dir=./covoaudio
mode=a2ta

prompt_dir=./token2wav/prompt
decode_model_config=./token2wav/config.json
decode_load_path=./covoaudio/token2wav/model.pt

export CUDA_VISIBLE_DEVICES=${CUDA_VISIBLE_DEVICES:-0}
echo "devices: $CUDA_VISIBLE_DEVICES"

CUDA_VISIBLE_DEVICES=4,5 python example.py \
    --model_dir "$model_dir" \
    --mode "$mode" \
    --prompt_dir "$prompt_dir" \
    --decode_model_config "$decode_model_config" \
    --decode_load_path "$decode_load_path"
