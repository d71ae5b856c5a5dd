"""Speed and memory benchmarks, each figure next to the raw library it wraps, measured in one run.

    python -m bench                      # every part, then one table (about 10–15 minutes on 2 cores)
    python -m bench retrieval ask        # some parts
    python -m bench.scoring              # one part alone, with its own options

They print figures and whether each meets the issue's goal; they never assert. bench/RESULTS.md
holds the last recorded run.
"""
