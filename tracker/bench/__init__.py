"""Benchmarks, one module per ``hrtrack bench`` subcommand: ``network`` (pose), ``tracking``
(track), ``evaluator`` (eval), ``training`` (train) and ``synthetic`` (synth). They find their
data through their arguments (a video, a model name), never by looking outside the package.
"""
