"""NPU008: ``torchaudio.load(...)`` -> a load that falls back to soundfile."""

from __future__ import annotations

import libcst as cst

from covo_port.lib.modulefn import helper_state, inside_helper, place_helper
from covo_port.lib.runtime import function_source
from covo_port.model import Category, Example, PythonRule, PythonSource

LOAD = "torchaudio.load"
HELPER = "_torchaudio_load"
#: torchaudio.load's parameters in order (torchaudio 2.x).
PARAMS = ("uri", "frame_offset", "num_frames", "normalize", "channels_first", "format",
          "buffer_size", "backend")

HELPER_SOURCE = function_source("torchaudio_load", HELPER)

#: Where a name that resolves to torchaudio.load is not a use of it.
_NOT_A_USE = (cst.Attribute, cst.ImportAlias, cst.AsName)


class TorchaudioLoad(PythonRule, id="NPU008", name="torchaudio-load-fallback",
                     category=Category.PACKAGES, triggers=("torchaudio",),
                     declines="the helper's name is taken, or torchaudio.load is a value",
                     fixes_non_npu="torchaudio 2.9 decodes only through torchcodec, which the "
                                   "host may lack (a torchaudio backend problem, not an NPU one)"):
    """torchaudio.load(...) -> the same load with a soundfile fallback (not an NPU fix:
    torchaudio's torchcodec backend)

    ## What it does

    Routes `torchaudio.load(...)` through a small helper that calls torchaudio.load and,
    where torchaudio cannot decode (torchaudio 2.9 without torchcodec), reads the file with
    soundfile instead. This fixes a problem of torchaudio's backend (torchcodec), met on
    Ascend hosts, not an NPU incompatibility: its commit in OUT's history says so, and a
    reviewer may drop it. In a module that is imported as part of its package, the helper is
    imported from the package's support module `_covo_port_npu.py`, which the run writes once
    (in this rule's commit); elsewhere (a script's folder, a notebook, a file ported on its
    own) it is inserted into the module.

    ## Why it breaks on Ascend

    From torchaudio 2.9, torchaudio.load decodes only through torchcodec and raises
    ImportError without it (the reference port hit this on the Ascend host, where torchcodec
    is not available). Each call becomes a call of a small helper (from the package's
    support module, or inserted once into the module): it calls torchaudio.load with the
    same arguments and, where torchaudio cannot load (ImportError, RuntimeError), reads the
    file with soundfile instead, returning what
    torchaudio 2.9 returns: a float32 tensor [channels, frames] in [-1, 1] (frames first
    with channels_first=False) and the sample rate, honouring frame_offset and num_frames.
    normalize=False is ignored by torchaudio 2.9 and by the fallback alike (float32 always):
    such calls are reported. format, buffer_size and backend only matter to torchaudio.

    ## Example

    ```python
    wav, sr = torchaudio.load(path)  # mono or stereo
    ```

    becomes (with `_torchaudio_load`, the fallback, imported from the package's support
    module, or inserted once above its first use)

    ```python
    wav, sr = _torchaudio_load(path)  # mono or stereo
    ```

    ## Fix safety

    Safe: where torchaudio can load, it is still what runs; the fallback returns the same
    float32 tensor and sample rate. Not an NPU fix (torchaudio's backend): dropping the rule's
    commit, support module included, leaves the rest of the port working.
    """

    def __init__(self, file: PythonSource) -> None:
        super().__init__(file)
        self._called: set[int] = set()
        #: names that `from torchaudio import load as NAME` bound
        self._aliases: set[str] = set()
        self._calls: list[cst.Call] = []

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        if isinstance(node.names, cst.ImportStar):
            return
        self._aliases.update(a.evaluated_alias for a in node.names
                             if a.evaluated_alias is not None and a.evaluated_name == "load")

    def _may_be_load(self, node: cst.BaseExpression) -> bool:
        last = node.attr.value if isinstance(node, cst.Attribute) else getattr(node, "value", "")
        return last == "load" or last in self._aliases

    def visit_Call(self, node: cst.Call) -> None:
        if not self._may_be_load(node.func) or not self.is_name(node.func, LOAD) or (
                inside_helper(self, node, HELPER)):
            return
        self._called.add(id(node.func))
        self._calls.append(node)
        for n, arg in enumerate(node.args):
            name = arg.keyword.value if arg.keyword else (
                PARAMS[n] if not arg.star and n < len(PARAMS) else None)
            value = arg.value
            if name == "normalize" and not (isinstance(value, cst.Name) and value.value == "True"):
                self.report(arg, "normalize is not True: torchaudio 2.9 (and the soundfile "
                            "fallback) ignore it and return float32 samples in [-1, 1]; integer "
                            "samples need another reader")

    def leave_Name(self, original_node: cst.Name) -> None:
        self._uncalled(original_node)

    def leave_Attribute(self, original_node: cst.Attribute) -> None:
        self._uncalled(original_node)

    def _uncalled(self, node: cst.Name | cst.Attribute) -> None:
        if id(node) in self._called or not self._may_be_load(node):
            return  # cheap tests first: resolving a name costs a scope analysis of the file
        parent = self.parent(node)
        if isinstance(parent, _NOT_A_USE) or not self.is_name(node, LOAD) or inside_helper(
                self, node, HELPER):
            return
        self.report(node, "torchaudio.load used without a call: not rewritten; it needs "
                    "torchcodec from torchaudio 2.9 (soundfile.read is an alternative)")

    def finish(self) -> None:
        if not self._calls:
            return
        state = helper_state(self, HELPER)
        if state == "taken":
            for call in self._calls:
                self.report(call, f"torchaudio.load needs a soundfile fallback, and the name "
                            f"{HELPER} is taken in this module: not rewritten")
            return
        for call in self._calls:
            self.replace(call.func, cst.Name(HELPER),
                         f"torchaudio.load -> {HELPER} (soundfile fallback)")
        if state == "free":
            place_helper(self, self._calls[0], HELPER, HELPER_SOURCE,
                         f"{HELPER}(): torchaudio.load with a soundfile fallback")

    examples = (
        Example(
            "import torch\nimport torchaudio\n\n\n"
            "@torch.no_grad()\n"
            "def read(path):\n"
            "    wav, sr = torchaudio.load(path)  # mono or stereo\n"
            "    return torchaudio.functional.resample(wav, sr, 16000)\n",
            "import torch\nimport torchaudio\n\n\n" + HELPER_SOURCE + "\n\n"
            "@torch.no_grad()\n"
            "def read(path):\n"
            "    wav, sr = _torchaudio_load(path)  # mono or stereo\n"
            "    return torchaudio.functional.resample(wav, sr, 16000)\n",
        ),
        Example(
            "from torchaudio import load as load_audio\n"
            "clip, rate = load_audio('a.wav', frame_offset=100, num_frames=400)\n"
            "raw, _ = load_audio('b.wav', normalize=False)\n",
            "from torchaudio import load as load_audio\n\n\n" + HELPER_SOURCE + "clip, rate = "
            "_torchaudio_load('a.wav', frame_offset=100, num_frames=400)\n"
            "raw, _ = _torchaudio_load('b.wav', normalize=False)\n",
            findings=1,
        ),
        Example(
            "import torchaudio\n"
            "loader = torchaudio.load\n"
            "wav = torchaudio.load_with_torchcodec('x.wav')\n"
            "info = torchaudio.info('x.wav')\n",
            findings=1,
        ),
        Example(
            "import torchaudio\n"
            "_torchaudio_load = None\n"
            "wav, sr = torchaudio.load('x.wav')\n",
            findings=1,
        ),
    )
