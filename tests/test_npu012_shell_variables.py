"""NPU012 in shell scripts: a variable that holds the backend is rewritten where it is one
(its name says backend, or a ``--*backend*`` flag passes it on), not elsewhere."""

from __future__ import annotations

from .conftest import run_rules


def port(script: str) -> str:
    outcome = run_rules(script, path="launch.sh", select=("NPU012",))
    assert outcome.error is None
    return outcome.output(script.encode()).decode()


def test_variables_passed_to_backend_flags_are_rewritten() -> None:
    script = ("#!/bin/bash\n"
              'dist_backend="nccl"\n'
              "export BACKEND=nccl\n"
              "comm='nccl'\n"
              "label=nccl\n"
              "DDP=${DDP_BACKEND:-nccl}\n"
              "torchrun train.py --dist_backend $dist_backend --ddp-backend=\"${comm}\" \\\n"
              "    --tag $label --backend ${DDP} --x-backend \"${B:-nccl}\"\n")
    assert port(script) == ("#!/bin/bash\n"
                            'dist_backend="hccl"\n'
                            "export BACKEND=hccl\n"
                            "comm='hccl'\n"
                            "label=nccl\n"
                            "DDP=${DDP_BACKEND:-hccl}\n"
                            "torchrun train.py --dist_backend $dist_backend "
                            "--ddp-backend=\"${comm}\" \\\n"
                            "    --tag $label --backend ${DDP} --x-backend \"${B:-hccl}\"\n")


def test_other_values_and_names_are_left_alone() -> None:
    script = ("#!/bin/sh\nmode=nccl_test\nbackend=gloo\nname=nccl\necho $name\n"
              "python x.py --backend $backend --name $name\n")
    assert port(script) == script
    again = port(port("#!/bin/sh\nB=nccl\npython x.py --backend $B\n"))
    assert again == "#!/bin/sh\nB=hccl\npython x.py --backend $B\n"
