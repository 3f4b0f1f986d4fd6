"""Where device values travel, in a module and across a tree, into libraries with a device
vocabulary of their own (``covo_port/data/device_consumers.tsv``): a ``"cuda"`` that reaches one
of them must stay ``"cuda"`` there ("npu" is an error in faster-whisper, vLLM, bitsandbytes...).
"""

from __future__ import annotations

import libcst as cst

from covo_port.lib.consumers import Consumer, ConsumerKind, consumer_of, consumers
from covo_port.lib.devices import consumer_arguments, terminal_name
from covo_port.lib.names import full_name, imported_names
from covo_port.lib.tree import nodes_in
from covo_port.lib.treefacts import imported_modules
from covo_port.model import PythonRule, TreeIndex

#: The tree fact of a module that imports a library with its own devices.
CONSUMER = "consumer:"


class ConsumerFlow:
    """What a rule's walk of one module learns of the values that libraries with their own
    devices receive: feed it every call and assignment (:meth:`call`, :meth:`assign`), then ask
    :meth:`reaching` and :meth:`made`."""

    def __init__(self, rule: PythonRule) -> None:
        self.rule = rule
        #: whether the module imports a library with its own device vocabulary at all
        self.active = any(consumer_of(full) is not None
                          for fulls in rule.file.imports.values() for full in fulls)
        #: names whose values reach such a library -> that library
        self._received: dict[str, Consumer] = {}
        #: name -> the names read in what is assigned to it (how a value travels in the file)
        self._feeds: dict[str, set[str]] = {}
        #: dotted names assigned an object that such a library made -> the library
        self._objects: dict[str, Consumer] = {}

    def call(self, node: cst.Call) -> None:
        if self.active and (received := consumer_arguments(self.rule, node)) is not None:
            for name in received[1]:
                self._received.setdefault(name, received[0])

    def assign(self, node: cst.Assign) -> None:
        if not self.active:
            return
        read = {n.value for n in nodes_in(node.value, cst.Name)} | {
            n.attr.value for n in nodes_in(node.value, cst.Attribute)}
        made = self._made_by_call(node.value)
        for target in node.targets:
            name = terminal_name(target.target)
            if name is not None:
                self._feeds.setdefault(name, set()).update(read)
                if made is not None and (dotted := full_name(target.target)) is not None:
                    self._objects[dotted] = made

    def made(self, node: cst.BaseExpression) -> Consumer | None:
        """The library with its own devices that made the object ``node`` is (a call of it, or
        a name assigned one: ``w = bnb.nn.Int8Params(...)``)."""
        if not self.active:
            return None
        return self._objects.get(full_name(node) or "") or self._made_by_call(node)

    def _made_by_call(self, node: cst.BaseExpression) -> Consumer | None:
        if not isinstance(node, cst.Call):
            return None
        return next((c for n in sorted(imported_names(self.rule, node.func))
                     if (c := consumer_of(n)) is not None), None)

    def reaching(self) -> dict[str, Consumer]:
        """Every name whose value may reach a library with its own devices, following
        assignments within the file (``x = asr_device if ... else "cpu"``: asr_device too)."""
        found = dict(self._received)
        todo = list(found)
        while todo:
            name = todo.pop()
            for source in self._feeds.get(name, ()):
                if source not in found:
                    found[source] = found[name]
                    todo.append(source)
        return found


def consumer_facts(path: str, data: bytes) -> set[str]:
    """A rule's tree words: ``consumer:<package>`` where a file imports a library with its own
    devices."""
    if not path.endswith(".py"):
        return set()
    return {CONSUMER + c.package for name in imported_modules(path, data)
            if (c := consumer_of(name)) is not None and c.kind is ConsumerKind.CONSUMER}


def consumer_elsewhere(tree: TreeIndex | None, rule_id: str,
                       path: str) -> tuple[Consumer, str] | None:
    """A library with its own devices that another module of the tree imports (per the tree
    words of :func:`consumer_facts`), and the first such module: a device default or option of
    ``path`` may travel there."""
    if tree is None:
        return None
    for package, consumer in sorted(consumers().items()):
        files = sorted(tree.files_with(rule_id, CONSUMER + package) - {path})
        if files and consumer.kind is ConsumerKind.CONSUMER:
            return consumer, files[0]
    return None
