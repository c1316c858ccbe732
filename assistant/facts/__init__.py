"""Clauses → knowledge: targets, responsibilities, deadlines, the ledger."""
