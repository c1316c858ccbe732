"""Files → documents → clauses with section paths and offsets, and each document's identity."""
