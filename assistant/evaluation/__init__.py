"""Eval sets, scoring and baselines (`planqa eval`)."""
