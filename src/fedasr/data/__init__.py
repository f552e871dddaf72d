"""Speech data: manifests, the embedded corpus, importers, features, tokenizers, partitions."""
