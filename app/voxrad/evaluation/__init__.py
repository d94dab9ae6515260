"""Evaluation of installed models on medical VQA and grounding datasets (`voxrad eval`)."""
