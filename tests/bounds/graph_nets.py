"""Hand-written branching networks for the graph bounds (what the ONNX converter emits for VNN-COMP's ResNets,
concatenations, padded and transposed CNNs), and their inputs."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional


def randomise(net: nn.Module, seed: int, scale: float = 0.5) -> nn.Module:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * scale)
        for m in net.modules():
            if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)
    return net.double().eval()


class ResidualMLP(nn.Module):
    """x -> relu(W1 x) -> h + relu(W2 h) (a residual block) -> head."""

    def __init__(self, d: int = 4, width: int = 12, activation: type[nn.Module] = nn.ReLU):
        super().__init__()
        self.inp, self.act = nn.Linear(d, width), activation()
        self.block = nn.Sequential(nn.Linear(width, width), activation(), nn.Linear(width, width))
        self.head = nn.Linear(width, 3)

    def forward(self, x):
        h = self.act(self.inp(x))
        return self.head(self.act(h + self.block(h)))


class ResidualCNN(nn.Module):
    """A tiny ResNet: conv stem, a basic block (conv-BN-relu-conv-BN + identity skip, relu), an avg-pool, head."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU())
        self.conv1, self.bn1 = nn.Conv2d(4, 4, 3, padding=1), nn.BatchNorm2d(4)
        self.conv2, self.bn2 = nn.Conv2d(4, 4, 3, padding=1), nn.BatchNorm2d(4)
        self.pool, self.head = nn.AvgPool2d(2), nn.Linear(4 * 3 * 3, 3)

    def forward(self, x):
        h = self.stem(x)
        r = self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(h)))))
        h = functional.relu(h + r)
        return self.head(self.pool(h).view(x.size(0), -1))


class ConcatNet(nn.Module):
    """Two branches of different widths and activations, concatenated, then a difference of two heads."""

    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Linear(4, 6), nn.Linear(4, 5)
        self.head, self.skip = nn.Linear(11, 3), nn.Linear(4, 3)

    def forward(self, x):
        h = torch.cat([torch.relu(self.a(x)), torch.tanh(self.b(x))], dim=1)
        return self.head(h) - 0.5 * self.skip(x) + 1.0


class PaddedTransposedCNN(nn.Module):
    """Input normalisation by constants, constant padding, a transpose of the spatial axes, max-pool, sigmoid."""

    def __init__(self):
        super().__init__()
        self.conv, self.pool = nn.Conv2d(2, 3, 3), nn.MaxPool2d(2)
        self.head = nn.Linear(3 * 3 * 3, 3)

    def forward(self, x):
        x = (x - 0.5) / 0.25
        h = functional.pad(x, (1, 1, 1, 1), value=0.3)
        h = torch.sigmoid(self.conv(h)).transpose(2, 3)
        return self.head(torch.flatten(self.pool(h.permute(0, 1, 3, 2)), 1))


def sigmoid_mlp(seed: int, activation: type[nn.Module] = nn.Sigmoid) -> nn.Module:
    return randomise(
        nn.Sequential(nn.Linear(4, 16), activation(), nn.Linear(16, 16), activation(), nn.Linear(16, 3)),
        seed,
        scale=1.0,
    )


#: name -> (constructor of a random net by seed, input shape)
GRAPH_NETS = {
    "residual-mlp": (lambda seed: randomise(ResidualMLP(), seed), (4,)),
    "residual-tanh-mlp": (lambda seed: randomise(ResidualMLP(activation=nn.Tanh), seed, 1.0), (4,)),
    "residual-cnn": (lambda seed: randomise(ResidualCNN(), seed), (1, 6, 6)),
    "concat": (lambda seed: randomise(ConcatNet(), seed), (4,)),
    "padded-transposed-cnn": (lambda seed: randomise(PaddedTransposedCNN(), seed), (2, 6, 6)),
    "sigmoid-mlp": (sigmoid_mlp, (4,)),
    "tanh-mlp": (lambda seed: sigmoid_mlp(seed, nn.Tanh), (4,)),
}


def net_and_box(nets: dict, name: str, seed: int, radius: float):
    """A random net of ``nets[name]``, a random input x and a box of per-coordinate radii 0.5 to 1.5 x radius."""
    make, shape = nets[name]
    net = make(seed)
    x = torch.rand(shape, generator=torch.Generator().manual_seed(50 + seed), dtype=torch.float64)
    r = torch.full(shape, radius, dtype=torch.float64) * torch.linspace(0.5, 1.5, x.numel()).reshape(shape)
    return net, x, (x - r, x + r)


def graph_setup(name: str, seed: int, radius: float = 0.3):
    return net_and_box(GRAPH_NETS, name, seed, radius)
