"""NPU203: CUDA-only packages in the literal requirement lists of setup.py's ``setup()``."""

from __future__ import annotations

import libcst as cst

from covo_port.lib.cuda_build import BUILD_TRIGGERS, index_advice, requirement_advice
from covo_port.lib.requirements import pep508
from covo_port.lib.strings import string_value
from covo_port.model import Category, Example, PythonRule, Safety, Target

_SETUP = {"setuptools.setup", "distutils.core.setup", "setuptools._distutils.core.setup"}
_LISTS = {"install_requires", "setup_requires", "tests_require"}


class SetupPackages(PythonRule, id="NPU203", name="setup-py-packages", category=Category.PACKAGES,
                    safety=Safety.REPORT, triggers=BUILD_TRIGGERS):
    """setup.py: CUDA-only packages and CUDA builds in setup()'s requirement lists reported

    ## What it does

    Reports the CUDA-only packages and CUDA builds that a `setup()` call of setup.py
    requires in literal lists (`install_requires`, `setup_requires`, `tests_require`, the
    lists of `extras_require`) and the CUDA wheel indexes of `dependency_links`, with what
    to install on Ascend: the same table and advice as NPU201's for requirements files.

    ## Why it breaks on Ascend

    `pip install .` of a package whose setup() requires flash-attn, xformers, triton,
    bitsandbytes or a `+cu121` torch build either fails to build without nvcc or installs
    kernels that the NPU cannot run; the Ascend counterparts (torch-npu of the same version
    as torch, onnxruntime-cann, triton-ascend, vllm-ascend...) are in
    covo_port/data/cuda_build.tsv. Lists that setup.py reads from a requirements file are
    not read here: that file is NPU201's.

    ## Example

    ```python
    from setuptools import setup
    setup(name="demo", install_requires=["torch", "bitsandbytes>=0.41"],
          extras_require={"fast": ["flash-attn"]})
    ```

    is reported (2 findings) and left as it is.

    ## Fix safety

    Report only: which NPU build to install depends on the user's torch and CANN versions.
    """

    @classmethod
    def might_match(cls, source: bytes, target: Target) -> bool:
        """A trigger word, in a file that calls ``setup(``."""
        return b"setup(" in source and super().might_match(source, target)


    def visit_Call(self, node: cst.Call) -> None:
        if not self.is_name(node.func, *_SETUP):
            return
        for arg in node.args:
            keyword = arg.keyword.value if arg.keyword is not None else None
            if keyword in _LISTS:
                self._requirements(arg.value)
            elif keyword == "extras_require" and isinstance(arg.value, cst.Dict):
                for element in arg.value.elements:
                    if isinstance(element, cst.DictElement):
                        self._requirements(element.value)
            elif keyword == "dependency_links" and isinstance(arg.value, (cst.List, cst.Tuple)):
                for element in arg.value.elements:
                    url = string_value(element.value)
                    advice = index_advice(url) if url is not None else None
                    if advice is not None:
                        self.report(element.value, f"dependency_links {url}: {advice}")

    def _requirements(self, node: cst.BaseExpression) -> None:
        """Report the CUDA-only requirements of a literal list (anything else: the
        requirements file it is read from is checked on its own)."""
        if not isinstance(node, (cst.List, cst.Tuple)):
            return
        for element in node.elements:
            text = string_value(element.value)
            requirement = pep508(text, 1) if text is not None else None
            found = requirement_advice(requirement) if requirement is not None else None
            if found is not None:
                severity, message = found
                self.report(element.value, message, severity)

    examples = (
        Example(
            "from setuptools import setup\n"
            "setup(name='demo', install_requires=['torch', 'bitsandbytes>=0.41'],\n"
            "      extras_require={'fast': ['flash-attn']})\n",
            findings=2,
            path="setup.py",
        ),
        Example(
            "import setuptools\n"
            "setuptools.setup(name='demo', install_requires=REQUIREMENTS,\n"
            "                 dependency_links=['https://download.pytorch.org/whl/cu118'])\n",
            findings=1,
            path="setup.py",
        ),
        Example(
            "from setuptools import setup\n"
            "setup(name='demo', install_requires=['numpy', 'torch>=2.1'])\n"
            "def setup(app):  # a Sphinx extension's setup, not setuptools'\n"
            "    app.add_config_value('cuda', 'flash-attn', 'env')\n",
            path="setup.py",
        ),
    )
