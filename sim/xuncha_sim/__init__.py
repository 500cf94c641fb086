"""Simulated county systems for the demo, the tests and the benchmarks — not part of the product.

- `xuncha_sim.generator`: synthetic nightly exports (and truth.json) calibrated to the seed figures;
- `xuncha_sim.countyserver`: a county HTTP system serving such exports over the pull interface (export spec §9).

The package lives outside `plugins/`, so a production image (which mounts `plugins/` only) does not carry it;
`make install` installs it beside `xuncha` in the editable install. `xuncha generate` and `xuncha demo` import it
lazily.
"""
