"""The City's rules, free of storage and network: the words, the comment policy, screening."""
