"""The shell scan (tree-sitter-bash): words, commands, expansions, quotes, comments and
here-documents."""

from __future__ import annotations

import pytest

from covo_port.engines.shell import is_shell_script
from covo_port.engines.shell.lexer import lex
from covo_port.lib.shell import command_name

from .conftest import run_rules


def words(text: str) -> list[list[str]]:
    return [[w.text for w in cmd] for cmd in lex(text).commands]


def refs(text: str) -> list[str]:
    return [text[r.start:r.end] for r in lex(text).refs]


def test_commands_split_on_operators_and_newlines() -> None:
    assert words("a=1 b c; d && e | f\ng 'x y' \"z w\"") == [
        ["a=1", "b", "c"], ["d"], ["e"], ["f"], ["g", "'x y'", '"z w"']]


def test_line_continuations_keep_one_command() -> None:
    assert words("python x.py \\\n  --a 1 \\\n  --b\n") == [["python", "x.py", "--a", "1", "--b"]]


def test_reserved_words_are_not_command_names() -> None:
    cmds = lex("if true; then X=1 run; fi\nwhile read l; do echo $l; done\n").commands
    names = [command_name(c)[1].text for c in cmds if command_name(c)[1]]
    assert names == ["true", "run", "read", "echo"]


def test_expansions_outside_single_quotes_only() -> None:
    text = "echo $A \"$B ${C:-x}\" '$D' \\$E ${F#*/} $1 $@\n"
    assert refs(text) == ["A", "B", "C", "F"]


def test_expansions_inside_substitutions() -> None:
    text = 'x=$(echo "$A" `printf $B`) y=$((C + 1)) <(cat $D)\n'
    assert refs(text) == ["A", "B", "D"]
    assert ["echo", '"$A"', "`printf $B`"] in words(text)


def test_comments_are_not_words() -> None:
    scan = lex("echo a # $X and 'quote\necho b#notcomment\n")
    assert [[w.text for w in c] for c in scan.commands] == [["echo", "a"], ["echo", "b#notcomment"]]
    assert [r.name for r in scan.refs] == []
    assert scan.in_comment(len("echo a # "))


def test_heredoc_bodies_quoted_and_unquoted() -> None:
    text = (
        "cat <<EOF\nhello $A\nEOF\n"
        "cat <<'END' >f\nliteral $B\nEND\n"
        "cat <<-\"X\"\n\t$C\n\tX\n"
        "echo $D\n"
    )
    assert refs(text) == ["A", "D"]
    assert words(text)[-1] == ["echo", "$D"]


def test_offsets_point_at_the_source() -> None:
    text = "  FOO=1   run  --x\n"
    cmd = lex(text).commands[0]
    assert [(w.start, w.end) for w in cmd] == [(2, 7), (10, 13), (15, 18)]
    assert cmd[0].assignment_name == "FOO"
    assert cmd[1].assignment_name is None


def test_crlf_scripts_keep_their_line_structure() -> None:
    text = "A=1 run x\r\necho $A\r\n"
    assert [c[0].text for c in lex(text).commands] == ["A=1", "echo"]
    assert refs(text) == ["A"]


def test_words_after_a_redirection_and_lone_assignments() -> None:
    assert words("python a.py >log 2>&1 --backend nccl\nA=1 B=2\nC=$(x)\n") == [
        ["python", "a.py", "--backend", "nccl"], ["A=1", "B=2"], ["C=$(x)"], ["x"]]
    assert words("time python a.py\n") == [["python", "a.py"]]


def test_a_path_of_expansions_is_one_word() -> None:
    # tree-sitter-bash splits `$A/$b/c` after `$A/$`: the scan joins it back
    text = "X=$A/$b/c python $D/$model/run.py | cat <<EOF\n$E\nEOF\n"
    assert words(text) == [["X=$A/$b/c", "python", "$D/$model/run.py"], ["cat"]]
    assert refs(text) == ["A", "b", "D", "model", "E"]


def test_length_and_indirect_expansions_name_their_variable() -> None:
    assert refs("echo ${#CUDA_VISIBLE_DEVICES} ${!X} ${arr[0]} $((N + 1)) $1\n") == [
        "CUDA_VISIBLE_DEVICES", "X", "arr"]


def test_nesting_as_deep_as_bash_accepts() -> None:
    text = "echo " + "$(" * 350 + "echo $A" + ")" * 350 + "\n"
    scan = lex(text)
    assert len(scan.commands) == 351 and refs(text) == ["A"] and not scan.unreadable


def test_a_part_the_parser_cannot_read_is_a_finding() -> None:
    text = "#!/bin/bash\nif [ ; then CUDA_VISIBLE_DEVICES=2 python x.py ; fi )\n"
    assert lex(text).unreadable
    messages = [f.message for f in run_rules(text, path="run.sh").findings]
    assert any(m.startswith("line 2: shell syntax that the parser cannot read") for m in messages)


def test_offsets_count_characters_not_bytes() -> None:
    text = "echo caf\u00e9 \udcff $A\n"  # a UTF-8 letter, a byte that is not UTF-8
    assert refs(text) == ["A"] and words(text) == [["echo", "caf\u00e9", "\udcff", "$A"]]


@pytest.mark.parametrize(
    ("name", "head", "expected"),
    [
        ("run.sh", b"", True),
        ("run.bash", b"echo", True),
        ("run", b"#!/bin/bash\n", True),
        ("run", b"#!/usr/bin/env bash\n", True),
        ("run", b"#!/usr/bin/env -S bash -e\n", True),
        ("run", b"#! /bin/sh\n", True),
        ("run", b"#!/usr/bin/env python3\n", False),
        ("run", b"echo hi\n", False),
        ("notes.txt", b"", False),
    ],
)
def test_shell_script_detection(name: str, head: bytes, expected: bool) -> None:
    assert is_shell_script(name, head) is expected
