"""Proving a port by running it: ``covo-port verify`` and ``covo-port run``.

- :mod:`.core`, :mod:`.residual`, :mod:`.markdown`: what every verification profile shares;
- :mod:`.profiles`: the profiles (Covo-Audio's five stages; any project's own tests);
- :mod:`.emulation`: Ascend NPUs emulated on the CPU, the Ascend host's ``torch.cuda``, and the
  recorder of what reaches the NPU;
- :mod:`.launch`, :mod:`.child`, :mod:`.pytest_plugin`: a command run with the emulation in
  every Python process it starts; :mod:`.readiness` and :mod:`.support`: the operator readiness
  report, judged by torch_npu 2.8's tables.
"""
