"""Time 4 training steps of the `cpu` preset (160x384, batch 8): run it under different OpenMP settings.

python bench/omp_wait_policy.py default
OMP_WAIT_POLICY=PASSIVE python bench/omp_wait_policy.py passive
OMP_NUM_THREADS=1 python bench/omp_wait_policy.py one-thread
"""

import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from draem_core.config import preset  # noqa: E402
from draem_core.loss import draem_loss  # noqa: E402
from draem_core.model import DraemModel  # noqa: E402

model = DraemModel(preset("cpu", (160, 384)))
opt = torch.optim.Adam(model.parameters())
x = torch.rand(8, 3, 160, 384)
mask = (torch.rand(8, 1, 160, 384) > 0.9).float()
times = []
for _ in range(4):
    t = time.perf_counter()
    out = model(x)
    loss = draem_loss(out.reconstruction, x, out.logits, mask).total
    opt.zero_grad()
    loss.backward()
    opt.step()
    times.append(time.perf_counter() - t)
print(sys.argv[1:], "threads", torch.get_num_threads(), "seconds per step", [round(v, 2) for v in times])
