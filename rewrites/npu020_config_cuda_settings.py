"""NPU020: config files: Lightning accelerators, CUDA-only attention, other libraries' device
settings and CUDA environment variables reported."""

from __future__ import annotations

import re

from covo_port.lib.config_vocab import (
    CUDA_DEVICE,
    ConfigContext,
    Term,
    attention,
    environment,
    is_device_key,
    key_path,
    lookup,
    setting,
)
from covo_port.model import (
    Category,
    ConfigEntry,
    ConfigSource,
    Example,
    Rule,
    Safety,
    Severity,
    ShellSource,
)

_ASSIGNMENT = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=")


def _term(context: ConfigContext, entry: ConfigEntry) -> tuple[Term, str] | None:
    """(the table's row, what the value is) for an entry that selects something CUDA-only."""
    key, value = entry.key, entry.value
    text = value.strip().lower() if isinstance(value, str) else None
    if text is not None and (CUDA_DEVICE.match(text) or (text == "gpu" and is_device_key(key))):
        foreign = context.foreign(entry)
        if foreign is not None:
            return foreign, f"a setting of {foreign.name}, not a torch device: not rewritten"
    term = setting(key, value)
    if term is not None:
        return term, f"a {term.name} setting"
    term = attention(key, value)
    if term is not None:
        return term, "selects a CUDA-only kernel"
    name = key
    if isinstance(value, str) and (match := _ASSIGNMENT.match(value)):
        name = match.group(1)  # a "NAME=value" item of an environment list
    term = environment(name)
    if term is not None:
        return term, f"an environment variable of {term.name}"
    if text == "gpu" and is_device_key(key):
        term = lookup("device-value", text)
        if term is not None:
            return term, "not a torch device string"
    return None


class ConfigCudaSettings(Rule, id="NPU020", name="config-cuda-settings",
                         category=Category.BACKENDS, safety=Safety.REPORT,
                         triggers=("cuda", "CUDA", "gpu", "GPU", "xformers", "flash", "fa2",
                                   "fa3", "triton", "cudnn", "sage", "nvidia", "NVIDIA", "NCCL")):
    """config files and script flags: Lightning accelerators, CUDA-only attention, other
    libraries' device settings, CUDA environment variables reported

    ## What it does

    Reports config-file settings that select CUDA but are not torch device strings: Lightning's
    `accelerator: gpu`, accelerate's `MULTI_GPU`, CUDA-only attention
    implementations (`attn_implementation: flash_attention_2`, `xformers`, `use_flash_attn:
    true`), device values inside other libraries' settings (vLLM, DeepSpeed, TensorRT,
    onnxruntime, CTranslate2, CI workflows), CUDA environment variables and Docker Compose GPU
    reservations, in YAML, JSON, TOML, INI/cfg and .env files; and the same settings given
    as flags in shell scripts (`python train.py --gpus 1`, `--accelerator gpu`).

    ## Why it breaks on Ascend

    These values have vocabularies of their own, where "npu" is not a word: Lightning has no
    built-in NPU accelerator (it needs a plugin), flash-attn, xformers and FlashInfer are CUDA
    kernels that the NPU replaces with scaled_dot_product_attention or
    torch_npu.npu_fusion_attention, CTranslate2 (faster-whisper) knows only "cpu" and "cuda",
    vLLM runs on Ascend through the vllm-ascend plugin, and CUDA_VISIBLE_DEVICES,
    NVIDIA_VISIBLE_DEVICES and NCCL_* are read by software that an Ascend host does not run.
    Which replacement fits depends on the versions installed, so each is reported with the
    NPU-side advice from covo_port/data/config_vocabulary.tsv and left as it is.

    ## Example

    ```yaml
    trainer:
      accelerator: gpu
    model:
      attn_implementation: flash_attention_2
    ```

    is reported (2 findings) and left as it is.

    ## Fix safety

    Report only: the replacement (an accelerator plugin, another attention implementation, the
    CPU for CTranslate2) is a choice for the user.
    """

    @classmethod
    def shell(cls, file: ShellSource) -> None:
        """``--accelerator gpu``, ``--gpus=1``, ``--attn_implementation flash_attention_2``:
        the config settings, given on a command line."""
        for words in file.scan.commands:
            for index, word in enumerate(words):
                flag, sep, value = word.text.partition("=")
                if not flag.startswith("--") or len(flag) < 3:
                    continue
                if not sep:
                    if index + 1 >= len(words) or words[index + 1].text.startswith("-"):
                        continue
                    value = words[index + 1].text
                key = flag[2:]
                term = setting(key, value) or attention(key, value)
                if term is not None:
                    file.report(cls, word.start, f"{flag} {value}: {term.advice}")

    @classmethod
    def config(cls, file: ConfigSource) -> None:
        context = ConfigContext(file.path, file.entries)
        severity = Severity.INFO if context.file_term is not None else None
        for entry in file.entries:
            found = _term(context, entry)
            if found is not None:
                term, what = found
                file.report(cls, entry, f"{key_path(entry)}: {entry.value!r}: {what}; "
                            f"{term.advice}", severity)

    examples = (
        Example(
            "trainer:\n  accelerator: gpu\nmodel:\n  attn_implementation: flash_attention_2\n",
            findings=2,
            path="config.yaml",
        ),
        Example(
            '{"whisper": {"device": "cuda", "compute_type": "float16"},\n'
            ' "vllm": {"device": "cuda"}, "enable_xformers": true}\n',
            findings=3,
            path="serve.json",
        ),
        Example(
            "CUDA_VISIBLE_DEVICES=0 python train.py \\\n  --gpus 1 \\\n  --precision 16\n"
            "python infer.py --accelerator=gpu --attn_implementation flash_attention_2\n",
            findings=3,  # the variable is NPU002's
            path="train.sh",
        ),
        Example(
            "CUDA_VISIBLE_DEVICES=0,1\nNCCL_DEBUG=INFO\nDEVICE=gpu\n",
            findings=3,
            path=".env",
        ),
        Example(
            "services:\n  app:\n    environment:\n      - CUDA_VISIBLE_DEVICES=0\n"
            "    deploy:\n      resources:\n        reservations:\n          devices:\n"
            "            - driver: nvidia\n              capabilities: [gpu]\n",
            findings=2,
            path="docker-compose.yml",
        ),
        Example(
            "trainer:\n  accelerator: auto\n  gpus: 0\nuse_xformers: false\n"
            "labels: [GPU, CPU]\n"
            "attn_implementation: sdpa\nnum_gpus_per_node: 8\n",
            path="config.yaml",
        ),
    )
