"""The benchmark suite: each figure measured beside a reference taken in the same run."""
