"""NPU002: ``CUDA_VISIBLE_DEVICES`` -> ``ASCEND_RT_VISIBLE_DEVICES`` (Python and shell)."""

from __future__ import annotations

import re

import libcst as cst

from covo_port.lib.shell import command_name
from covo_port.lib.strings import string_value
from covo_port.model import (
    Category,
    Example,
    PythonRule,
    PythonSource,
    ShellSource,
)

CUDA_ENV = "CUDA_VISIBLE_DEVICES"
_ENV_READERS = {
    "os.getenv", "os.putenv", "os.unsetenv", "os.environ.get", "os.environ.setdefault",
    "os.environ.pop", "os.environ.__getitem__", "os.environ.__setitem__",
}
_DECLARERS = {"export", "declare", "typeset", "local", "readonly", "unset"}




class VisibleDevices(PythonRule, id="NPU002", name="cuda-visible-devices",
                     category=Category.DEVICES, triggers=(CUDA_ENV,),
                     declines='a mention whose use is not certain, e.g. in an os.system line'):
    """CUDA_VISIBLE_DEVICES -> ASCEND_RT_VISIBLE_DEVICES, in Python and shell

    ## What it does

    Renames `CUDA_VISIBLE_DEVICES` to `ASCEND_RT_VISIBLE_DEVICES` where it is certainly an
    environment variable: `os.environ[...]`, `os.environ.get/setdefault/pop`, `os.getenv`,
    `in os.environ`, `env=` mappings; in shell scripts assignments, `export`/`unset`, `env
    VAR=...` and `$VAR` expansions.

    ## Why it breaks on Ascend

    The Ascend runtime ignores CUDA_VISIBLE_DEVICES: a script that pins devices with it runs
    on every NPU (or on the wrong one). ASCEND_RT_VISIBLE_DEVICES takes the same
    comma-separated index list. Rewritten where the name is certainly an environment
    variable: os.environ[...], os.environ.get/setdefault/pop, os.getenv/putenv/unsetenv, `in
    os.environ`, keys of an env= mapping; in shell scripts VAR=... prefixes,
    export/unset/declare, env VAR=..., and $VAR / ${VAR...} expansions. Any other mention (a
    string handed to os.system, a message) is reported, not guessed.

    ## Example

    ```python
    import os
    os.environ["CUDA_VISIBLE_DEVICES"] = "0,1"
    ```

    becomes

    ```python
    import os
    os.environ["ASCEND_RT_VISIBLE_DEVICES"] = "0,1"
    ```

    ## Fix safety

    Safe: the Ascend runtime reads the same comma-separated index list from
    ASCEND_RT_VISIBLE_DEVICES.
    """

    def __init__(self, file: PythonSource) -> None:
        super().__init__(file)
        self._handled: set[int] = set()
        #: every string holding the name (those not handled are reported at the end)
        self._strings: list[cst.SimpleString] = []
        #: names of variables that are environments: copies of os.environ, or passed as env=
        self._environments: set[str] = set()
        #: keys written into a variable that may be an environment: (variable, key node)
        self._pending: list[tuple[str, cst.SimpleString | cst.Name]] = []

    def _rename(self, node: cst.SimpleString | cst.Name) -> None:
        if id(node) in self._handled:
            return
        self._handled.add(id(node))
        new_env = self.file.target.visible_devices_env
        new = node.with_changes(value=node.value.replace(CUDA_ENV, new_env))
        self.replace(node, new, f"{CUDA_ENV} -> {new_env}")

    def _env_key(self, node: cst.BaseExpression | None) -> cst.SimpleString | None:
        if isinstance(node, cst.SimpleString) and string_value(node) == CUDA_ENV:
            return node
        return None

    def _is_environ(self, node: cst.BaseExpression) -> bool:
        return self.is_name(node, "os.environ")

    def _is_environ_copy(self, node: cst.BaseExpression) -> bool:
        """``os.environ.copy()``, ``dict(os.environ, ...)``, ``copy.copy(os.environ)``,
        ``{**os.environ, ...}``."""
        if isinstance(node, cst.Call):
            if isinstance(node.func, cst.Attribute) and node.func.attr.value == "copy" and (
                    self._is_environ(node.func.value)):
                return True
            return bool(node.args) and self._is_environ(node.args[0].value) and (
                self.is_name(node.func, "dict", "copy.copy", "copy.deepcopy", "builtins.dict")
                or (isinstance(node.func, cst.Name) and node.func.value == "dict"))
        if isinstance(node, cst.Dict):
            return any(isinstance(e, cst.StarredDictElement) and self._is_environ(e.value)
                       for e in node.elements)
        return False

    def _keys(self, target: str, call: cst.Call) -> None:
        """The names a ``target.update(...)`` or ``dict(environ, ...)`` call sets."""
        for arg in call.args:
            if arg.keyword is not None and arg.keyword.value == CUDA_ENV:
                self._pending.append((target, arg.keyword))
            elif isinstance(arg.value, cst.Dict):
                for element in arg.value.elements:
                    key = self._env_key(getattr(element, "key", None))
                    if key is not None:
                        self._pending.append((target, key))

    def visit_Assign(self, node: cst.Assign) -> None:
        if self._is_environ_copy(node.value):
            self._environments.update(t.target.value for t in node.targets
                                      if isinstance(t.target, cst.Name))

    def visit_Subscript(self, node: cst.Subscript) -> None:
        if len(node.slice) != 1 or not isinstance(index := node.slice[0].slice, cst.Index):
            return
        key = self._env_key(index.value)
        if key is None:
            return
        if self._is_environ(node.value):
            self._rename(key)
        elif isinstance(node.value, cst.Name):
            self._pending.append((node.value.value, key))

    def visit_Call(self, node: cst.Call) -> None:
        if self.is_name(node.func, *_ENV_READERS) and node.args and (
                key := self._env_key(node.args[0].value)):
            self._rename(key)
        if isinstance(node.func, cst.Attribute) and node.func.attr.value == "update":
            receiver = node.func.value
            if self._is_environ(receiver):
                self._keys("os.environ", node)
            elif isinstance(receiver, cst.Name):
                self._keys(receiver.value, node)
        if self._is_environ_copy(node):
            self._keys("os.environ", node)
        for arg in node.args:
            if arg.keyword is None or arg.keyword.value != "env":
                continue
            if isinstance(arg.value, cst.Name):
                self._environments.add(arg.value.value)
            elif isinstance(arg.value, cst.Dict):
                for element in arg.value.elements:
                    if isinstance(element, cst.DictElement) and (key := self._env_key(
                            element.key)):
                        self._rename(key)

    def visit_Comparison(self, node: cst.Comparison) -> None:
        for target in node.comparisons:
            if isinstance(target.operator, (cst.In, cst.NotIn)) and self._is_environ(
                    target.comparator) and (key := self._env_key(node.left)):
                self._rename(key)

    def leave_SimpleString(self, original_node: cst.SimpleString) -> None:
        value = string_value(original_node)
        if value is not None and CUDA_ENV in value:
            self._strings.append(original_node)

    def finish(self) -> None:
        for variable, key in self._pending:
            if variable == "os.environ" or variable in self._environments:
                self._rename(key)
        for string in self._strings:
            if id(string) not in self._handled:
                self.report(string, f"{CUDA_ENV} in a string whose use is not certain; set "
                            f"{self.file.target.visible_devices_env} instead if it selects "
                            "devices")

    @classmethod
    def shell(cls, file: ShellSource) -> None:
        new_env = file.target.visible_devices_env
        renamed: set[int] = set()

        def rename(start: int) -> None:
            if start not in renamed:
                renamed.add(start)
                file.replace(cls, start, start + len(CUDA_ENV), new_env,
                             f"{CUDA_ENV} -> {new_env}")

        for words in file.scan.commands:
            index, name = command_name(words)
            for word in words[:index]:
                if word.assignment_name == CUDA_ENV:
                    rename(word.start)
            if name is None:
                continue
            args = words[index + 1:]
            if name.text in _DECLARERS:
                for word in args:
                    if word.assignment_name == CUDA_ENV or word.text == CUDA_ENV:
                        rename(word.start)
            elif name.text == "env":
                for word in args:
                    if word.assignment_name == CUDA_ENV:
                        rename(word.start)
                    elif not word.text.startswith("-") and word.assignment_name is None \
                            and words[words.index(word) - 1].text not in ("-u", "--unset"):
                        break
        for ref in file.scan.refs:
            if ref.name == CUDA_ENV:
                rename(ref.start)
        for m in re.finditer(CUDA_ENV, file.text):
            if m.start() not in renamed and not file.scan.in_comment(m.start()):
                file.report(cls, m.start(), f"{CUDA_ENV} left as is: its use here is not "
                            f"certain; set {new_env} if it selects devices")

    examples = (
        Example(
            'import os\nos.environ["CUDA_VISIBLE_DEVICES"] = "0,1"\n',
            'import os\nos.environ["ASCEND_RT_VISIBLE_DEVICES"] = "0,1"\n',
        ),
        Example(
            "from os import environ, getenv\n"
            "ids = environ.get('CUDA_VISIBLE_DEVICES', '0')\n"
            "first = getenv(\"CUDA_VISIBLE_DEVICES\")  # keep this comment\n"
            "if 'CUDA_VISIBLE_DEVICES' in environ:\n    pass\n",
            "from os import environ, getenv\n"
            "ids = environ.get('ASCEND_RT_VISIBLE_DEVICES', '0')\n"
            "first = getenv(\"ASCEND_RT_VISIBLE_DEVICES\")  # keep this comment\n"
            "if 'ASCEND_RT_VISIBLE_DEVICES' in environ:\n    pass\n",
        ),
        Example(
            "import os, subprocess\n"
            "os.environ.setdefault('CUDA_VISIBLE_DEVICES', '0')\n"
            "subprocess.run(cmd, env={**os.environ, 'CUDA_VISIBLE_DEVICES': '1'})\n",
            "import os, subprocess\n"
            "os.environ.setdefault('ASCEND_RT_VISIBLE_DEVICES', '0')\n"
            "subprocess.run(cmd, env={**os.environ, 'ASCEND_RT_VISIBLE_DEVICES': '1'})\n",
        ),
        Example(
            "import os\nos.system('CUDA_VISIBLE_DEVICES=0 python train.py')\n"
            "print('set CUDA_VISIBLE_DEVICES to pick GPUs')\n",
            findings=2,
        ),
        Example(
            'environ = {}\nenviron["CUDA_VISIBLE_DEVICES"] = "0"\n',
            findings=1,
        ),
        Example(  # the environment of a child process, however it is built
            "import os, subprocess\n"
            "env = os.environ.copy()\n"
            'env["CUDA_VISIBLE_DEVICES"] = str(rank)\n'
            "other = dict(os.environ, CUDA_VISIBLE_DEVICES='1')\n"
            "extra = {}\n"
            "extra.update({'CUDA_VISIBLE_DEVICES': '2'})\n"
            "subprocess.run(cmd, env=extra)\n",
            "import os, subprocess\n"
            "env = os.environ.copy()\n"
            'env["ASCEND_RT_VISIBLE_DEVICES"] = str(rank)\n'
            "other = dict(os.environ, ASCEND_RT_VISIBLE_DEVICES='1')\n"
            "extra = {}\n"
            "extra.update({'ASCEND_RT_VISIBLE_DEVICES': '2'})\n"
            "subprocess.run(cmd, env=extra)\n",
        ),
        Example(
            "#!/bin/bash\n# pick devices with CUDA_VISIBLE_DEVICES\n"
            "CUDA_VISIBLE_DEVICES=4,5 python example.py --model_dir $model_dir \\\n"
            "    --mode a2t\n"
            "export CUDA_VISIBLE_DEVICES=${CUDA_VISIBLE_DEVICES:-0}\n"
            'echo "using $CUDA_VISIBLE_DEVICES"\n'
            "env -u FOO CUDA_VISIBLE_DEVICES=1 torchrun x.py\n"
            "echo '$CUDA_VISIBLE_DEVICES stays literal'\n",
            "#!/bin/bash\n# pick devices with CUDA_VISIBLE_DEVICES\n"
            "ASCEND_RT_VISIBLE_DEVICES=4,5 python example.py --model_dir $model_dir \\\n"
            "    --mode a2t\n"
            "export ASCEND_RT_VISIBLE_DEVICES=${ASCEND_RT_VISIBLE_DEVICES:-0}\n"
            'echo "using $ASCEND_RT_VISIBLE_DEVICES"\n'
            "env -u FOO ASCEND_RT_VISIBLE_DEVICES=1 torchrun x.py\n"
            "echo '$CUDA_VISIBLE_DEVICES stays literal'\n",
            path="run.sh",
            findings=1,
        ),
        Example(
            "cat <<'EOF' > run.py\nimport os; os.environ['CUDA_VISIBLE_DEVICES']\nEOF\n"
            "unset CUDA_VISIBLE_DEVICES\n",
            "cat <<'EOF' > run.py\nimport os; os.environ['CUDA_VISIBLE_DEVICES']\nEOF\n"
            "unset ASCEND_RT_VISIBLE_DEVICES\n",
            path="run.sh",
            findings=1,
        ),
    )
