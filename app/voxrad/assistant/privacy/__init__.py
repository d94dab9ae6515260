"""What may leave VoxRad for a model, and identifiers scrubbed from free text."""
