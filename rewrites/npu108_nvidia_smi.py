"""NPU108: ``nvidia-smi`` run from Python (subprocess, os.system...) or from shell scripts."""

from __future__ import annotations

import re

import libcst as cst

from covo_port.lib.calls import positional_count
from covo_port.lib.names import assigning_statements, imported_names
from covo_port.lib.shell import command_name
from covo_port.lib.strings import texts_in
from covo_port.model import Category, Example, PythonRule, Safety, ShellSource

TOOL = "nvidia-smi"
_SEPARATORS = re.compile(r"[\s;|&()`$=<>\"']+")
#: Functions whose first argument (or args=/cmd=) is a command line or an argument vector.
_RUNNERS = {
    *(f"subprocess.{f}" for f in ("run", "call", "check_call", "check_output", "Popen",
                                  "getoutput", "getstatusoutput")),
    *(f"os.{f}" for f in ("system", "popen", "execl", "execle", "execlp", "execlpe", "execv",
                          "execve", "execvp", "execvpe", "spawnl", "spawnlp", "spawnv",
                          "spawnvp", "posix_spawn", "posix_spawnp")),
    "asyncio.create_subprocess_exec", "asyncio.create_subprocess_shell",
    "commands.getoutput", "commands.getstatusoutput",
}
_LOOKUPS = {"shutil.which", "distutils.spawn.find_executable"}
_MESSAGE_COMMANDS = {"echo", "printf", ":", "true", "false"}
NPU_SMI = ("use npu-smi, the Ascend tool (`npu-smi info`; memory and usage: `npu-smi info -t "
           "usages -i 0`), or in Python torch.npu.device_count() / torch.npu.mem_get_info() / "
           "torch.npu.utilization()")


def runs_tool(text: str) -> bool:
    """Whether the command line ``text`` has nvidia-smi as one of its words."""
    return any(token == TOOL or token.endswith("/" + TOOL)
               for token in _SEPARATORS.split(text))


class NvidiaSmi(PythonRule, id="NPU108", name="nvidia-smi", category=Category.PROFILING,
                safety=Safety.REPORT, cuda_only=True, triggers=(TOOL,)):
    """nvidia-smi run from Python (subprocess, os.system) or shell scripts reported

    ## What it does

    Reports nvidia-smi run from Python or from shell scripts, with npu-smi and the torch.npu
    queries to use instead.

    ## Why it breaks on Ascend

    nvidia-smi is NVIDIA's device query tool: an Ascend host does not have it, so a script
    that runs it to list GPUs, read free memory or wait for an idle device fails (command
    not found) or, where the output is parsed, finds no device. The Ascend tool is npu-smi
    (`npu-smi info`, usage and memory with `npu-smi info -t usages -i N`); from Python,
    torch.npu.device_count(), torch.npu.mem_get_info() and torch.npu.utilization() answer
    without a subprocess. The output formats differ, so nothing is rewritten. Reported:
    Python calls that run it (subprocess.run/Popen/check_output..., os.system/popen/exec*,
    asyncio subprocesses; the command as a string, an argument list, or a variable assigned
    one in the same scope) or look it up (shutil.which), and in shell scripts every command
    that runs it (also in $(...), pipelines and `bash -c "..."`). Messages that merely
    mention it (echo, print, comments) are left alone.

    ## Example

    ```python
    from subprocess import run
    cmd = f'/usr/bin/nvidia-smi -i {index}'
    run(cmd, shell=True)
    ```

    is reported (1 finding) and left as it is.

    ## Fix safety

    Report only: the output formats differ.
    """

    def visit_Call(self, node: cst.Call) -> None:
        names = imported_names(self, node.func)
        runner = min(names & _RUNNERS, default=None)
        lookup = min(names & _LOOKUPS, default=None)
        if runner is None and lookup is None:
            return
        command = self._command(node)
        if command is None or not self._names_tool(command):
            return
        if runner is not None:
            self.report(node, f"{runner}(...) runs {TOOL}, which an Ascend host does not have: "
                        f"{NPU_SMI}")
        else:
            self.report(node, f"{lookup}('{TOOL}') detects NVIDIA GPUs: on an Ascend host look "
                        "for npu-smi, or use torch.npu.is_available()")

    @staticmethod
    def _command(node: cst.Call) -> cst.BaseExpression | None:
        for arg in node.args:
            if arg.keyword is not None and arg.keyword.value in ("args", "cmd", "program",
                                                                   "file", "path"):
                return arg.value
        return node.args[0].value if positional_count(node.args) else None

    def _names_tool(self, command: cst.BaseExpression) -> bool:
        parts: list[cst.CSTNode] = [command]
        if isinstance(command, cst.Name):
            statements = assigning_statements(self, command, (cst.SimpleStatementLine,))
            if statements is None:
                return False
            parts += statements
        return any(runs_tool(text) for part in parts for text in texts_in(part))

    @classmethod
    def shell(cls, file: ShellSource) -> None:
        for words in file.scan.commands:
            _, name = command_name(words)
            if name is None or name.text in _MESSAGE_COMMANDS:
                continue
            for word in words:
                # $(...) and `...` inside a word are commands of their own, scanned apart
                if "$(" not in word.text and "`" not in word.text and runs_tool(word.text):
                    file.report(cls, word.start, f"runs {TOOL}, which an Ascend host does not "
                                f"have: {NPU_SMI}")
                    break

    examples = (
        Example(
            "import subprocess, os, shutil\n"
            "out = subprocess.check_output(['nvidia-smi', '--query-gpu=memory.free',\n"
            "                               '--format=csv'])\n"
            "os.system('nvidia-smi -L > gpus.txt')\n"
            "if shutil.which('nvidia-smi'):\n    pass\n",
            findings=3,
        ),
        Example(
            "from subprocess import run\n"
            "cmd = f'/usr/bin/nvidia-smi -i {index}'\n"
            "run(cmd, shell=True)\n",
            findings=1,
        ),
        Example(
            "#!/bin/bash\n"
            "# wait until nvidia-smi shows a free GPU\n"
            "nvidia-smi --query-gpu=memory.used --format=csv\n"
            "free=$(nvidia-smi | grep MiB)\n"
            "echo \"nvidia-smi not needed\"\n"
            "ssh node1 'nvidia-smi -L'\n",
            path="gpus.sh",
            findings=3,
        ),
        Example(
            "print('check nvidia-smi for the GPU state')  # nvidia-smi\n"
            "logger.info('run nvidia-smi')\n"
            "subprocess.run(['ls', '-l'])\n"
            "HELP = 'nvidia-smi -L lists GPUs'\n",
        ),
    )
