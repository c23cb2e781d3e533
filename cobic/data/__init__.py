"""Readers (SSDA903 returns, DfE tables), derived demand measures and synthetic data."""
