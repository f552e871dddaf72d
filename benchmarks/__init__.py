"""fedasr's benchmarks: timed comparisons and the scripts behind docs/benchmarks.md and
docs/results/. Run each from the repository root as a module, e.g.

    python -m benchmarks.bench_overhead --corpus CORPUS --runs 3

(`python -m` puts the repository root on the import path, so the benchmarks share their
helpers — engine_bench, fl_bench, flower_shared — as ordinary imports). Every benchmark takes
its corpus and output paths as arguments; `--help` lists them.
"""
