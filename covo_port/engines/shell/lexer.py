"""A shell lexer careful enough to rewrite scripts by byte offsets.

The lexer knows what bash knows about where words start and end: single quotes (literal),
double quotes (expansions still happen), backslash escapes, comments, ``$(...)`` and backtick
command substitutions (scanned as commands of their own), ``${...}`` expansions and here-documents
(quoted delimiters make the body literal). It yields simple commands as lists of words with
offsets, and every ``$NAME`` / ``${NAME...}`` reference that the shell would expand, so rules can
edit exactly the characters they mean and leave everything else byte-identical.
"""

from __future__ import annotations

import re

from covo_port.model import ShellScan, VarRef, Word

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OPERATORS = ("&&", "||", ";;", "|&", ";", "&", "|", "(", ")", "\n")
_RESERVED = {"if", "then", "else", "elif", "fi", "do", "done", "while", "until", "for", "case",
             "esac", "in", "function", "select", "time", "!", "{", "}", "[[", "]]"}


class _Lexer:
    def __init__(self, text: str) -> None:
        self.text = text
        self.scan = ShellScan()
        self.pending_heredocs: list[tuple[str, bool, bool, int]] = []

    # -- expansions inside words ------------------------------------------------------------
    def _dollar(self, i: int, stop: str) -> int:
        """At ``text[i] == '$'``: record a reference, return the offset after the expansion."""
        t = self.text
        nxt = t[i + 1] if i + 1 < len(t) else ""
        if nxt == "{":
            m = _NAME.match(t, i + 2)
            if m:
                self.scan.refs.append(VarRef(m.group(), m.start(), m.end()))
            depth, j = 1, i + 2
            while j < len(t) and depth:
                c = t[j]
                if c == "\\":
                    j += 2
                    continue
                if c == "$":
                    j = self._dollar(j, "}")
                    continue
                if c == "'" and stop != '"':
                    j = self._single(j)
                    continue
                if c == '"':
                    j = self._double(j)
                    continue
                depth += {"{": 1, "}": -1}.get(c, 0)
                j += 1
            return j
        if nxt == "(":
            if t.startswith("((", i + 1):
                return self._balanced(i + 3, "(", ")", extra=1)
            return self._commands(i + 2, closer=")")
        m = _NAME.match(t, i + 1)
        if m:
            self.scan.refs.append(VarRef(m.group(), m.start(), m.end()))
            return m.end()
        return i + 2 if nxt and nxt in "@*#?$!-0123456789" else i + 1

    def _balanced(self, i: int, opener: str, closer: str, extra: int = 0) -> int:
        depth, t = 1 + extra, self.text
        while i < len(t) and depth:
            if t[i] == "$":
                i = self._dollar(i, closer)
                continue
            depth += {opener: 1, closer: -1}.get(t[i], 0)
            i += 1
        return i

    def _single(self, i: int) -> int:
        end = self.text.find("'", i + 1)
        return len(self.text) if end < 0 else end + 1

    def _double(self, i: int) -> int:
        t, j = self.text, i + 1
        while j < len(t):
            c = t[j]
            if c == "\\":
                j += 2
            elif c == '"':
                return j + 1
            elif c == "$":
                j = self._dollar(j, '"')
            elif c == "`":
                j = self._backtick(j)
            else:
                j += 1
        return j

    def _backtick(self, i: int) -> int:
        end = i + 1
        while end < len(self.text) and self.text[end] != "`":
            end += 2 if self.text[end] == "\\" else 1
        inner = _Lexer(self.text[i + 1 : end])
        inner._commands(0, closer=None)
        offset = i + 1
        self.scan.refs += [
            VarRef(r.name, r.start + offset, r.end + offset) for r in inner.scan.refs
        ]
        self.scan.commands += [
            [Word(w.text, w.start + offset, w.end + offset) for w in cmd]
            for cmd in inner.scan.commands
        ]
        return min(end + 1, len(self.text))

    # -- words and commands -----------------------------------------------------------------
    def _word(self, i: int) -> int:
        t = self.text
        while i < len(t):
            c = t[i]
            if c in " \t\n;&|()<>":
                if c in "<>" and i + 1 < len(t) and t[i + 1] == "(":
                    i = self._commands(i + 2, closer=")")  # process substitution
                    continue
                return i
            if c == "\\":
                i += 2
            elif c == "'":
                i = self._single(i)
            elif c == '"':
                i = self._double(i)
            elif c == "$":
                i = self._dollar(i, "")
            elif c == "`":
                i = self._backtick(i)
            else:
                i += 1
        return min(i, len(t))

    def _heredoc_bodies(self, i: int) -> int:
        """At the start of the line after a here-doc operator: skip (and scan) the bodies."""
        t = self.text
        for delimiter, quoted, strip_tabs, operator in self.pending_heredocs:
            body = i
            while i < len(t):
                end = t.find("\n", i)
                line_end = len(t) if end < 0 else end
                line = t[i:line_end]
                if (line.lstrip("\t") if strip_tabs else line) == delimiter:
                    i = line_end + 1
                    break
                if not quoted:
                    j = i
                    while j < line_end:
                        if t[j] == "\\":
                            j += 2
                        elif t[j] == "$":
                            j = self._dollar(j, "")
                        else:
                            j += 1
                i = line_end + 1
            self.scan.heredocs.append((body, min(i, len(t)), operator))
        self.pending_heredocs.clear()
        return min(i, len(t))

    def _commands(self, i: int, closer: str | None) -> int:
        t = self.text
        current: list[Word] = []
        while i < len(t):
            c = t[i]
            if closer and c == closer:
                if current:
                    self.scan.commands.append(current)
                return i + 1
            if c in " \t":
                i += 1
            elif c == "\\" and t.startswith("\\\n", i):
                i += 2
            elif c == "#":
                end = t.find("\n", i)
                end = len(t) if end < 0 else end
                self.scan.comments.append((i, end))
                i = end
            elif c == "<" and t.startswith("<<", i) and not t.startswith("<<<", i):
                strip_tabs = t.startswith("<<-", i)
                j = i + (3 if strip_tabs else 2)
                while j < len(t) and t[j] in " \t":
                    j += 1
                end = self._word(j)
                raw = t[j:end]
                quoted = any(q in raw for q in "'\"\\")
                delimiter = raw.replace("'", "").replace('"', "").replace("\\", "")
                self.pending_heredocs.append((delimiter, quoted, strip_tabs, i))
                i = end
            elif c in "<>":
                i += 1
                while i < len(t) and t[i] in "<>&|":
                    i += 1
            elif any(t.startswith(op, i) for op in _OPERATORS):
                op = next(op for op in _OPERATORS if t.startswith(op, i))
                if current:
                    self.scan.commands.append(current)
                    current = []
                i += len(op)
                if op == "(":
                    i = self._commands(i, closer=")")
                if op == "\n" and self.pending_heredocs:
                    i = self._heredoc_bodies(i)
            else:
                end = self._word(i)
                word = Word(t[i:end], i, end)
                if not current and word.text in _RESERVED:
                    i = end
                    continue
                current.append(word)
                i = end
        if current:
            self.scan.commands.append(current)
        return i


def lex(text: str) -> ShellScan:
    lexer = _Lexer(text)
    lexer._commands(0, closer=None)
    lexer.scan.commands.sort(key=lambda cmd: cmd[0].start)
    lexer.scan.refs.sort(key=lambda r: r.start)
    return lexer.scan
