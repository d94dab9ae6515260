"""The reply side: reading every model family's output (reasoning, answer, boxes)."""
