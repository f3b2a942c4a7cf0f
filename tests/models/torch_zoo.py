"""A small torch module whose constructor arguments are kept as attributes, so the
torch flavor can rebuild it from its state dict."""

from __future__ import annotations

import torch
from torch import nn


class TinyNet(nn.Module):
    def __init__(self, n_features: int, hidden: int = 8, n_classes: int = 3) -> None:
        super().__init__()
        self.n_features = n_features
        self.hidden = hidden
        self.n_classes = n_classes
        self.layers = nn.Sequential(
            nn.Linear(n_features, hidden), nn.ReLU(), nn.Dropout(0.1), nn.Linear(hidden, n_classes)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.layers(x)
        return out


class OpaqueNet(nn.Module):
    """Its constructor argument is not kept: the flavor cannot tell how to rebuild it."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.linear = nn.Linear(4, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.linear(x)
        return out
