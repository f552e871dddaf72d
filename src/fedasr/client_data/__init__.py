"""What a client trains on: corrupted clients (unequal quality), hidden transcripts and
pseudo-labels (the semi-supervised pipeline)."""
