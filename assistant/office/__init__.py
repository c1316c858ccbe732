"""Deliverables an office files and prints: ledger workbook, report, answered questionnaires."""
