"""The rules: one module per rule, each declaring one `covo_port.rule.Rule` subclass.

Installed as ``covo_port.rewrites``; ``covo_port.registry`` discovers every module here, so
adding a rule is adding one file.
"""
