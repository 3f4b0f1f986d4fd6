"""The languages a verification report is written in: English (the default) and Chinese.

Many Ascend users read Chinese first, and the reference port's report is a Chinese document.
A report's sentences are English templates passed through a :class:`Text`; in Chinese each is
looked up in :data:`covo_port.verify.zh.ZH` (a test checks that every template a report module
passes to a :class:`Text` has its entry there). What the tools and the code under test wrote
(error messages, decoded texts, file names, rule messages) is quoted as it is.
"""

from __future__ import annotations

from typing import Any

from covo_port.verify.zh import ZH

LANGS = ("en", "zh")


class Text:
    """``t("{n} files", n=3)``: the template in the report's language, filled in."""

    def __init__(self, lang: str = "en") -> None:
        if lang not in LANGS:
            raise ValueError(f"unknown report language {lang!r}: expected one of {LANGS}")
        self.lang = lang
        self._table = ZH if lang == "zh" else {}

    def __call__(self, text: str, /, **values: Any) -> str:
        template = self._table.get(text, text)
        return template.format(**values) if values else template


EN = Text("en")
