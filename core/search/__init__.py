"""Answering a query: BM25 and dense candidates (searcher), fused (fusion), reranked, highlighted."""
