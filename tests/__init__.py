"""The tests. Imported before conftest.py and anything it imports, so before numpy."""

import os

# numpy's BLAS (OpenBLAS) starts a thread per core for a vector product, and on a busy two-core
# machine those threads spin waiting for each other: one training on 724 examples took 110 s
# where it takes 4.6 s on one thread (61 s of CPU against 3 s). The suite's work is many small
# products, one test at a time: one thread each, here and in the servers the tests start.
for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")
