"""The turn loop: threads, intake, the turn book, questions one at a time, speech out."""
