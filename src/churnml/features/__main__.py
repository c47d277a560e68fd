"""``python -m churnml.features`` prints the feature catalogue as Markdown."""

from churnml.features.catalogue import catalogue_markdown

print(catalogue_markdown(), end="")
