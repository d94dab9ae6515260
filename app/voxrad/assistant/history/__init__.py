"""What is kept: the conversation per study and the audit hook."""
