"""Decoding (greedy, beam, exit selection) and error rates."""
