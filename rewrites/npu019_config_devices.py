"""NPU019: config files: ``cuda`` under device keys -> ``npu``, ``nccl`` under backend keys ->
``hccl``."""

from __future__ import annotations

from covo_port.lib.config_vocab import (
    CUDA_DEVICE,
    NCCL_BACKEND,
    ConfigContext,
    is_backend_key,
    is_device_key,
    key_path,
    setting,
    to_hccl,
)
from covo_port.model import Category, ConfigEntry, ConfigSource, Example, Rule


class ConfigDevices(Rule, id="NPU019", name="config-devices", category=Category.DEVICES,
                    triggers=("cuda", "nccl"),
                    declines="the key is not known to name a torch device or backend "
                             "(reported), the value is another library's setting (NPU020), "
                             "or it is not written as it is (escapes, block scalars, shared "
                             "YAML anchors: reported)"):
    """config files: "cuda" under device keys -> "npu", "nccl" under backend keys -> "hccl"

    ## What it does

    Rewrites the values of config-file keys that name a torch device (`device`, `*_device`,
    `device_type`, `devices`, `map_location`: "cuda" and "cuda:N" become "npu" and "npu:N")
    or a torch.distributed backend (keys with "backend" in them: "nccl" becomes "hccl") in
    YAML, JSON, TOML, INI/cfg and .env files. Only the value's characters change.

    ## Why it breaks on Ascend

    Programs read their device and process-group backend from config files at run time
    (Hydra and OmegaConf YAML, JSON and TOML configs, .env files): `device: cuda` sends every
    tensor to a CUDA device that an Ascend host does not have, and `dist_backend: nccl` asks
    for NVIDIA's collective library; torch_npu registers the "npu" device and the "hccl"
    backend behind the same torch API. The keys that name a torch device or backend come
    from a table shared with other rules (covo_port/data/config_vocabulary.tsv). A "cuda" or
    "nccl" value under any other key is reported, not guessed; one inside another library's
    settings (a `vllm:` or `deepspeed:` section, a mapping with CTranslate2's `compute_type`,
    a CI workflow) is NPU020's to report, as those libraries have their own device
    vocabularies. Each rewrite is checked by reading the file back with its format's
    library: only the rewritten values may differ.

    ## Example

    ```yaml
    device: cuda   # the training device
    eval_device: "cuda:1"
    dist_backend: nccl
    ```

    becomes

    ```yaml
    device: npu   # the training device
    eval_device: "npu:1"
    dist_backend: hccl
    ```

    ## Fix safety

    Safe: the program hands these values to torch, which takes "npu" and "hccl" once
    torch_npu is imported (the Python rules import it); comments, quoting, key order and
    indentation are kept byte for byte.
    """

    @classmethod
    def config(cls, file: ConfigSource) -> None:
        context = ConfigContext(file.path, file.entries)
        for entry in file.entries:
            if not isinstance(entry.value, str):
                continue
            value = entry.value.strip()  # INI values over several lines start with a newline
            device = CUDA_DEVICE.match(value)
            if (device is None and not NCCL_BACKEND.match(value)) or context.foreign(entry):
                continue  # another library's setting: NPU020 reports it
            where = key_path(entry)
            if device is not None:
                if is_device_key(entry.key):
                    index = device.group(1)
                    new = file.target.device_string(int(index) if index is not None else None)
                    _replace(cls, file, entry, new, f"{where}: {value!r} -> {new!r}")
                elif setting(entry.key, value) is None:  # accelerator: cuda is NPU020's
                    file.report(cls, entry, (
                        f"{where}: {value!r} is not under a key known to name a torch device: "
                        f"not rewritten; if the program hands it to torch, make it "
                        f"{file.target.device_type!r}"))
            elif is_backend_key(entry.key):
                new = to_hccl(value, file.target.device_type)
                _replace(cls, file, entry, new, f"{where}: backend {value!r} -> {new!r}")
            else:
                file.report(cls, entry, (
                    f"{where}: {value!r} is not under a key known to name a process-group "
                    "backend: not rewritten; the NPU's backend is 'hccl'"))

    examples = (
        Example(
            "device: cuda   # the training device\n"
            'eval_device: "cuda:1"\n'
            "dist_backend: nccl\n",
            "device: npu   # the training device\n"
            'eval_device: "npu:1"\n'
            "dist_backend: hccl\n",
            path="config.yaml",
        ),
        Example(
            '{\n  "train": {"device": "cuda:0", "devices": ["cuda:0", "cuda:1"]},\n'
            '  "dist": {"backend": "nccl"}\n}\n',
            '{\n  "train": {"device": "npu:0", "devices": ["npu:0", "npu:1"]},\n'
            '  "dist": {"backend": "hccl"}\n}\n',
            path="config.json",
        ),
        Example(
            "[trainer]\nprocess_group_backend = 'nccl'  # multi-node\n"
            'device_type = "cuda"\n',
            "[trainer]\nprocess_group_backend = 'hccl'  # multi-node\n"
            'device_type = "npu"\n',
            path="settings.toml",
        ),
        Example(
            "[run]\ndevice = cuda\n", "[run]\ndevice = npu\n", path="run.ini",
        ),
        Example(
            "export TORCH_DEVICE=cuda:0\nDIST_BACKEND=\"nccl\"\n",
            "export TORCH_DEVICE=npu:0\nDIST_BACKEND=\"hccl\"\n",
            path=".env",
        ),
        Example(
            "model:\n  target: cuda\n  kernel_backend: cuda\n"
            "asr:\n  device: cuda\n  compute_type: float16\n",
            findings=2,
            path="config.yaml",
        ),
        Example(
            "train_device: &dev cuda\neval_device: *dev\n",
            findings=2,
            path="config.yaml",
        ),
        Example(
            "device: cpu\ndescription: runs on cuda or cpu\ncuda_version: 12.1\n",
            path="config.yaml",
        ),
    )


def _replace(rule: type[Rule], file: ConfigSource, entry: ConfigEntry, new: str,
             message: str) -> None:
    """Rewrite the value, or report it where it is not only the device or backend."""
    if entry.value != str(entry.value).strip():
        file.report(rule, entry, f"{message}: not rewritten: the value has spaces or lines "
                    "around it")
    else:
        file.replace(rule, entry, new, message)
