"""Text for the ear: sentences as they stream, units and symbols in words."""
