"""The write service: the one writer of an index, and the live loop that follows the folders."""
