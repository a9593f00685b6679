"""Placeholder: commands of this family register through COMMANDS."""

COMMANDS: list = []
