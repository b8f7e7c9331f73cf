"""The index on disk: LanceDB tables (store), the vector index, the durable work queue and the indexer."""
