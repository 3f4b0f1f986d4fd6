"""The rule helper library: what rules share, so that no rule imports another.

CST queries (:mod:`names`, :mod:`calls`, :mod:`values`, :mod:`strings`, :mod:`tree`), import
handling (:mod:`imports`), helpers a rule inserts into a module (:mod:`modulefn`, with their
sources in :mod:`runtime`), the base of the package-reporting rules (:mod:`packages`), shell
queries (:mod:`shell`), requirement strings (:mod:`requirements`) and the data tables
(:mod:`cuda_api`, :mod:`ascend_ops`, :mod:`consumers`, :mod:`config_vocab` for config keys and
values, :mod:`cuda_build` for CUDA packages, indexes and images). It imports only the rule
model.
"""
