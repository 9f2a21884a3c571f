"""ncf: NeuMF (He et al., "Neural Collaborative Filtering", WWW 2017).

Two towers over user and item embeddings: GMF (element-wise product of `factors`-wide
embeddings) and an MLP over the concatenation of two more embeddings; their outputs are
concatenated into one logit, trained with sigmoid cross-entropy on implicit feedback.

Inputs are int64 (batch, 2) rows of (user, item); labels float32 1 (observed) / 0 (sampled
negative). `cpu` and `smoke` use MovieLens-100K's vocabulary, so the convergence scenario
trains them on the real data; `full` has MovieLens-20M's, as in the MLPerf NCF benchmark that
Paszke et al. timed (factors 64, MLP 256-256-128-64).
"""

from __future__ import annotations

import itertools

import numpy as np

from dlarena.contract import Shape, SizeConfig, Workload
from dlarena.data.catalogue import Dataset
from dlarena.data.tasks import Ranking, Task
from dlarena.workloads import flops

ML_100K = {"users": 943, "items": 1682}
ML_20M = {"users": 138_493, "items": 26_744}


class Ncf(Workload):
    name = "ncf"
    description = "NeuMF recommender (GMF + MLP towers), sigmoid cross-entropy, Adam lr 1e-3"
    datasets = ("movielens-100k",)
    loss = "sigmoid_cross_entropy"
    quality = "hit rate@10"
    sizes = {  # noqa: RUF012 - class-level constant table
        "smoke": SizeConfig(
            batch_size=256, description="ML-100K vocabulary, factors 8, MLP 32-16-8, batch 256 "
            "(the NCF paper's setting)",
            knobs={**ML_100K, "factors": 8, "layers": (32, 16, 8)},
        ),
        "cpu": SizeConfig(
            batch_size=2048, description="ML-100K vocabulary, factors 32, MLP 128-64-32, "
            "batch 2048",
            knobs={**ML_100K, "factors": 32, "layers": (128, 64, 32)},
        ),
        "full": SizeConfig(
            batch_size=65536, description="ML-20M vocabulary, factors 64, MLP 256-256-128-64, "
            "batch 65536 (MLPerf NCF)",
            knobs={**ML_20M, "factors": 64, "layers": (256, 256, 128, 64)},
        ),
    }

    def mlp_widths(self, size: str) -> list[tuple[int, int]]:
        """(in, out) of each MLP layer; its input is two concatenated embeddings."""
        layers = self.knobs(size)["layers"]
        return list(itertools.pairwise((layers[0], *layers)))

    def parameter_shapes(self, size: str) -> dict[str, Shape]:
        knobs = self.knobs(size)
        factors, layers = knobs["factors"], knobs["layers"]
        shapes: dict[str, Shape] = {
            "gmf_user.embeddings": (knobs["users"], factors),
            "gmf_item.embeddings": (knobs["items"], factors),
            "mlp_user.embeddings": (knobs["users"], layers[0] // 2),
            "mlp_item.embeddings": (knobs["items"], layers[0] // 2),
        }
        for index, (fan_in, fan_out) in enumerate(self.mlp_widths(size), start=1):
            shapes[f"mlp{index}.kernel"] = (fan_in, fan_out)
            shapes[f"mlp{index}.bias"] = (fan_out,)
        shapes["predict.kernel"] = (factors + layers[-1], 1)
        shapes["predict.bias"] = (1,)
        return shapes

    def forward_flops(self, size: str) -> int:
        knobs = self.knobs(size)
        mlp = sum(flops.dense(a, b) for a, b in self.mlp_widths(size))
        return mlp + flops.dense(knobs["factors"] + knobs["layers"][-1], 1)

    def synthetic_batch(
        self, rng: np.random.Generator, batch_size: int, size: str
    ) -> tuple[np.ndarray, np.ndarray]:
        knobs = self.knobs(size)
        inputs = np.stack([rng.integers(0, knobs["users"], batch_size),
                           rng.integers(0, knobs["items"], batch_size)], axis=1)
        labels = (rng.random(batch_size) < 0.2).astype(np.float32)  # 1 positive : 4 negatives
        return inputs.astype(np.int64), labels

    def convergence_task(self, data: Dataset, size: str) -> Task:
        knobs = self.knobs(size)
        if data.users > knobs["users"] or data.items > knobs["items"]:
            raise ValueError(
                f"{data.name} has {data.users} users and {data.items} items; ncf at size "
                f"{size!r} has embeddings for {knobs['users']} and {knobs['items']}")
        return Ranking(data)


WORKLOAD = Ncf()
