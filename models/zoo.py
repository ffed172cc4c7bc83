"""Model zoo: CIFAR-style ResNet-8/14/20 (He et al. 2016, sec. 4.2), a LeNet-style CNN and MLPs.

Every builder takes the input shape (C, H, W) and the number of classes, so
the same architectures run on the 8x8 digits and on 32x32 CIFAR images.
"""

from torch import nn

from axforge.registry import Registry

__all__ = ["ARCHS", "build_model"]


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU()
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:   # option B: 1x1 projection
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(y)) + self.shortcut(x))


class ResNet(nn.Module):
    """6n+2 layers: a 3x3 stem, three stages of n blocks (16, 32, 64 channels), pooling, a classifier."""

    def __init__(self, n, in_shape, classes, width=16):
        super().__init__()
        c = in_shape[0]
        self.conv1 = nn.Conv2d(c, width, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU()
        layers, cin = [], width
        for stage, cout in enumerate((width, 2 * width, 4 * width)):
            blocks = []
            for i in range(n):
                blocks.append(BasicBlock(cin, cout, 2 if stage and i == 0 else 1))
                cin = cout
            layers.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = layers
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(cin, classes)

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(self.pool(x).flatten(1))


class LeNet(nn.Module):
    """LeNet-5 style: two conv + pool stages and three fully connected layers."""

    def __init__(self, in_shape, classes):
        super().__init__()
        c, h, w = in_shape
        self.features = nn.Sequential(
            nn.Conv2d(c, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2))
        flat = 16 * (h // 4) * (w // 4)
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(flat, 120), nn.ReLU(), nn.Linear(120, 84),
                                        nn.ReLU(), nn.Linear(84, classes))

    def forward(self, x):
        return self.classifier(self.features(x))


class MLP(nn.Module):
    def __init__(self, in_shape, classes, hidden=(64, 32)):
        super().__init__()
        dims = [in_shape[0] * in_shape[1] * in_shape[2], *hidden]
        layers = [nn.Flatten()]
        for a, b in zip(dims, dims[1:]):
            layers += [nn.Linear(a, b), nn.ReLU()]
        layers.append(nn.Linear(dims[-1], classes))
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)


# name -> builder(in_shape, classes); an architecture registers itself with ``ARCHS.register(name, builder)``
ARCHS = Registry("Model architecture")
ARCHS.register("resnet8", lambda s, k: ResNet(1, s, k))
ARCHS.register("resnet14", lambda s, k: ResNet(2, s, k))
ARCHS.register("resnet20", lambda s, k: ResNet(3, s, k))
ARCHS.register("lenet", LeNet)
ARCHS.register("mlp", MLP)


def build_model(arch, in_shape, classes):
    """A fresh model of architecture ``arch`` for inputs (C, H, W) and ``classes`` outputs."""
    return ARCHS.lookup(arch)(tuple(in_shape), int(classes))
