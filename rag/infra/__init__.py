"""What the rest of the core runs on: deadlines, load timing, worker threads, tracing spans,
credentials and compute devices. It imports none of the other groups of `rag`."""
