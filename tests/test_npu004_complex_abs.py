"""NPU004 beyond its examples: values kept, parentheses, what is known complex, findings."""

from __future__ import annotations

import pytest

from covo_port.engines import FileOutcome
from covo_port.model import Severity

from .conftest import run_rules


def rewrite(source: str) -> tuple[str, FileOutcome]:
    outcome = run_rules(source, select=("NPU004",))
    assert outcome.error is None
    return outcome.output(source.encode()).decode(), outcome


def in_function(expression: str) -> str:
    return ("import torch\n\n"
            "def f(x, a, n):\n"
            "    z = torch.fft.rfft(x)\n"
            f"    return {expression}\n")


EXPRESSIONS = [
    "z.abs() ** 2",
    "-z.abs() ** 2",
    "a - z.abs() ** 2",
    "a + z.abs()**2",
    "z.abs() ** 2 - a",
    "z.abs() ** 2 / n",
    "2.0 * torch.abs(z) ** 2",
    "(z.abs() ** 2).sum(-1)",
    "z.abs().pow(2) * a",
    "z.abs().pow(exponent=2.0)",
    "torch.abs(z).square()[..., 1:]",
    "z[..., :-1].abs() ** 2",
    "z.abs()",
    "z.abs().mean(-1)",
    "z.abs() ** 3",
    "abs(z) ** 0.5",
    "torch.absolute(z) > a",
    "z.abs().square() ** 2",
]


@pytest.mark.parametrize("expression", EXPRESSIONS)
def test_rewrite_keeps_the_value(expression: str) -> None:
    torch = pytest.importorskip("torch")
    source = in_function(expression)
    output, outcome = rewrite(source)
    assert outcome.findings == []
    assert ".abs()" not in output and "abs(z)" not in output and "absolute" not in output
    x, a = torch.linspace(-1, 1, 16), torch.linspace(0.5, 1.5, 9)
    results = []
    for code in (source, output):
        namespace: dict[str, object] = {}
        exec(compile(code, "<fixture>", "exec"), namespace)
        results.append(namespace["f"](x, a, 3.0))  # type: ignore[operator]
    assert results[1].dtype == results[0].dtype
    torch.testing.assert_close(results[1], results[0])


def test_the_audit_construct() -> None:
    source = ("import torch\n\n"
              "def log_mel(audio, window):\n"
              "    stft = torch.stft(audio, 400, 160, window=window, return_complex=True)\n"
              "    magnitudes = stft[..., :-1].abs() ** 2  # power\n"
              "    return magnitudes\n")
    output, outcome = rewrite(source)
    assert output == source.replace("stft[..., :-1].abs() ** 2",
                                    "stft[..., :-1].real ** 2 + stft[..., :-1].imag ** 2")
    assert [(c.line, c.column, c.end_column) for c in outcome.changes] == [(5, 18, 43)]


def test_real_abs_is_untouched() -> None:
    # The shape of the upstream's ALiBi bias: torch.abs of an integer distance matrix.
    source = ("import torch\n\n"
              "def alibi_bias(heads, length):\n"
              "    position = torch.arange(length)\n"
              "    relative_position = position[None, :] - position[:, None]\n"
              "    relative_position = torch.abs(relative_position).unsqueeze(0)\n"
              "    return relative_position.expand(heads, -1, -1) ** 2\n")
    output, outcome = rewrite(source)
    assert output == source and outcome.findings == []


@pytest.mark.parametrize("body", [
    # a parameter: type unknown
    "    return x.abs() ** 2\n",
    # a later assignment makes the name real in the next loop iteration
    "    z = torch.fft.fft(x)\n    for _ in range(2):\n        m = z.abs()\n        z = m\n"
    "    return z\n",
    # real-output transforms, and shifts of a real input
    "    return torch.fft.irfft(x).abs(), torch.fft.fftshift(x).abs(), torch.fft.hfft(x).abs()\n",
    # return_complex=False, or not given
    "    s = torch.stft(x, 8, return_complex=False)\n    t = torch.stft(x, 8)\n"
    "    return s.abs(), t.abs()\n",
    # the complex value belongs to the enclosing function, not this one
    "    z = torch.fft.fft(x)\n    def inner():\n        return z.abs() ** 2\n    return inner\n",
    # unpacking and loop targets are not followed
    "    z, w = torch.fft.fft(x), x\n    for y in torch.fft.fft(x):\n        y.abs()\n"
    "    return z.abs()\n",
    # a numpy / librosa function of the same name
    "    import numpy as np\n    return np.abs(torch.fft.fft(x)) ** 2\n",
])
def test_unknown_types_are_left_alone_silently(body: str) -> None:
    source = f"import torch\n\ndef f(x):\n{body}"
    output, outcome = rewrite(source)
    assert output == source
    assert outcome.findings == []


def test_complex_through_names_slices_and_comprehensions() -> None:
    source = ("import torch\n\n"
              "def f(x, y):\n"
              "    spec = torch.stft(x, 8, return_complex=True)\n"
              "    spec = spec[..., 1:]\n"
              "    spec *= 2\n"
              "    prod = spec * torch.view_as_complex(y).conj()\n"
              "    return [prod[i].abs() ** 2 for i in range(3)]\n")
    output, _ = rewrite(source)
    assert "[prod[i].real ** 2 + prod[i].imag ** 2 for i in range(3)]" in output


def test_shifts_keep_complexness() -> None:
    source = ("import torch\n\n"
              "def f(x):\n"
              "    centred = torch.fft.ifftshift(torch.fft.fft2(x), dim=(-2, -1))\n"
              "    return centred.abs()\n")
    output, _ = rewrite(source)
    assert "return torch.sqrt(centred.real ** 2 + centred.imag ** 2)\n" in output


def test_complex_but_not_rewritable_is_an_error() -> None:
    source = ("import torch\n\n"
              "def f(x, buf):\n"
              "    a = torch.fft.fft(x).abs() ** 2\n"
              "    z = torch.fft.fft(x)\n"
              "    b = z[x.argmax()].abs()\n"
              "    return a, b, torch.abs(z, out=buf)\n")
    output, outcome = rewrite(source)
    assert output == source
    assert [(f.line, f.severity) for f in outcome.findings] == [
        (4, Severity.ERROR), (6, Severity.ERROR), (7, Severity.ERROR)]
    assert "assign it to a name first" in outcome.findings[0].message


def test_sqrt_uses_the_files_torch_name_or_reports() -> None:
    aliased = "import torch as t\nz = t.fft.fft(x)\nm = z.abs()\n"
    assert rewrite(aliased)[0] == ("import torch as t\nz = t.fft.fft(x)\n"
                                   "m = t.sqrt(z.real ** 2 + z.imag ** 2)\n")
    bare = "from torch.fft import fft\nz = fft(x)\nm = z.abs()\np = z.abs() ** 2\n"
    output, outcome = rewrite(bare)
    assert output == bare.replace("z.abs() ** 2", "z.real ** 2 + z.imag ** 2")
    assert len(outcome.findings) == 1 and "import torch" in outcome.findings[0].message


def test_second_apply_changes_nothing() -> None:
    source = in_function("(z.abs() ** 2).sum() + z.abs().mean()")
    once, _ = rewrite(source)
    twice, outcome = rewrite(once)
    assert twice == once and not outcome.changed


def test_absolute_and_aliases_are_found_by_every_spelling() -> None:
    sources = [
        "import torch\ndef f(x):\n    z = torch.fft.fft(x)\n    return torch.absolute(z) ** 2\n",
        "import torch\nfrom torch import absolute as A\n"
        "def f(x):\n    z = torch.fft.fft(x)\n    return A(z) ** 2\n",
        "import torch\ndef f(x):\n    z = torch.fft.fft(x)\n    return abs(z) ** 2\n",
    ]
    for source in sources:
        outcome = run_rules(source, select=("NPU004",))
        assert [c.after for c in outcome.changes] == ["z.real ** 2 + z.imag ** 2"], source
