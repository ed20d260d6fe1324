"""Instruction workbench core (issue 11): labels, metrics, query splits, candidate instructions and
config specs. Pure functions over plain data; the service layer, storage, CLI and page sit on top.
"""
