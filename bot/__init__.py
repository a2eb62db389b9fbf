"""The Bot Framework side of MyReview: the aiohttp app, the channels, delivery, the staff pages.

Imported before numpy whenever MyReview runs (`myreview ...` enters through bot.cli), so the
BLAS thread count is set here: the screen scores one short message at a time, and OpenBLAS's
thread per core only spins against the others on a busy machine (one training took 110 s on
two busy cores where one thread takes 4.6 s). A deployment that wants more sets the variable.
"""

import os

for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")
