"""Small PyTorch networks shared by the fixture scripts: torchvision's ResNet with a
configurable width, and an EfficientNet-Lite with efficientnet_pytorch's module names and
TensorFlow 'SAME' padding. Pinned with the scripts that import it (torch==2.13.0,
torchvision==0.29.2 --no-deps)."""
import sys
import types

import torch
import torch.nn as nn
import torch.nn.functional as F

# PyPI's torchvision wheels carry compiled ops built for CUDA torch, whose registration fails
# beside CPU torch; only the model definitions are needed.
sys.modules.setdefault("torchvision._meta_registrations", types.ModuleType("torchvision._meta_registrations"))
from torchvision.models.resnet import BasicBlock, Bottleneck  # noqa: E402,F401


class TinyResNet(nn.Module):
    """torchvision's ResNet with a configurable base width (torchvision fixes it at 64)."""

    def __init__(self, block, layers, base=64, groups=1, width_per_group=64, classes=1000):
        super().__init__()
        self.inplanes, self.groups, self.base_width = base, groups, width_per_group
        self.conv1 = nn.Conv2d(3, base, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(base)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = self._make_layer(block, base, layers[0])
        self.layer2 = self._make_layer(block, base * 2, layers[1], 2)
        self.layer3 = self._make_layer(block, base * 4, layers[2], 2)
        self.layer4 = self._make_layer(block, base * 8, layers[3], 2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(base * 8 * block.expansion, classes)

    def _make_layer(self, block, planes, blocks, stride=1):
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(nn.Conv2d(self.inplanes, planes * block.expansion, 1, stride, bias=False),
                                       nn.BatchNorm2d(planes * block.expansion))
        layers = [block(self.inplanes, planes, stride, downsample, self.groups, self.base_width)]
        self.inplanes = planes * block.expansion
        layers += [block(self.inplanes, planes, groups=self.groups, base_width=self.base_width) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def same_pads(size, k, s):
    """TensorFlow 'SAME': output ceil(size/s), the odd pixel of padding at the bottom/right."""
    out = (size + s - 1) // s
    total = max((out - 1) * s + k - size, 0)
    return total // 2, total - total // 2


class SameConv(nn.Conv2d):
    """efficientnet_pytorch's Conv2dStaticSamePadding: pads computed once for a fixed image size."""

    def __init__(self, cin, cout, k, s, size, groups=1):
        super().__init__(cin, cout, k, s, groups=groups, bias=False)
        t, b = same_pads(size, k, s)
        self.pads = (t, b, t, b)  # square images: left/right as top/bottom

    def forward(self, x):
        return super().forward(F.pad(x, self.pads))


class MBConv(nn.Module):
    def __init__(self, cin, cout, expand, k, s, size):
        super().__init__()
        hidden = cin * expand
        if expand != 1:
            self._expand_conv = nn.Conv2d(cin, hidden, 1, bias=False)
            self._bn0 = nn.BatchNorm2d(hidden, momentum=0.01, eps=1e-3)
        self._depthwise_conv = SameConv(hidden, hidden, k, s, size, groups=hidden)
        self._bn1 = nn.BatchNorm2d(hidden, momentum=0.01, eps=1e-3)
        self._project_conv = nn.Conv2d(hidden, cout, 1, bias=False)
        self._bn2 = nn.BatchNorm2d(cout, momentum=0.01, eps=1e-3)
        self.expand, self.skip = expand, (s == 1 and cin == cout)

    def forward(self, x):
        y = F.relu6(self._bn0(self._expand_conv(x))) if self.expand != 1 else x
        y = F.relu6(self._bn1(self._depthwise_conv(y)))
        y = self._bn2(self._project_conv(y))
        return y + x if self.skip else y


class TinyEfficientNetLite(nn.Module):
    def __init__(self, stem, stages, head, classes, size):
        super().__init__()
        self._conv_stem = SameConv(3, stem, 3, 2, size)
        size = (size + 1) // 2
        self._bn0 = nn.BatchNorm2d(stem, momentum=0.01, eps=1e-3)
        blocks = []
        for expand, k, s, cin, cout, repeats in stages:
            for r in range(repeats):
                stride = s if r == 0 else 1
                blocks.append(MBConv(cin if r == 0 else cout, cout, expand, k, stride, size))
                size = (size + stride - 1) // stride
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = nn.Conv2d(stages[-1][4], head, 1, bias=False)
        self._bn1 = nn.BatchNorm2d(head, momentum=0.01, eps=1e-3)
        self._dropout = nn.Dropout(0.2)
        self._fc = nn.Linear(head, classes)

    def forward(self, x):
        x = F.relu6(self._bn0(self._conv_stem(x)))
        for b in self._blocks:
            x = b(x)
        x = F.relu6(self._bn1(self._conv_head(x)))
        x = x.mean(dim=(2, 3))
        return self._fc(self._dropout(x))


def randomise_batch_norms(model):
    g = torch.Generator().manual_seed(7)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            c = m.num_features
            m.running_mean.copy_(torch.randn(c, generator=g) * 0.3)
            m.running_var.copy_(torch.rand(c, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(c, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(c, generator=g) * 0.2)
