"""ncf: Neural Collaborative Filtering (NeuMF)."""
