"""Retrieval: embedders, Chroma store, BM25 keyword index and hybrid search."""
