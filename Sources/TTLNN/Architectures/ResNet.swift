import TTLCore

/// torchvision's ResNet family, with its parameter names (`layer2.0.downsample.0.weight`):
/// ResNet-18/34/50/101/152 (v1.5: a bottleneck's stride sits on its 3×3 convolution),
/// ResNeXt-50 32×4d and Wide ResNet-50-2. Input `[N, 3, size, size]`, output the logits.
public enum ResNet {
    /// The residual block: two 3×3 convolutions (`basic`), or 1×1, 3×3, 1×1 with 4× expansion (`bottleneck`).
    public enum Block: Sendable { case basic, bottleneck }

    /// The block type, depth, widths, classes and input size of a torchvision ResNet.
    public struct Configuration: Sendable {
        /// Basic blocks (ResNet-18/34) or bottlenecks (ResNet-50 and deeper, ResNeXt, Wide ResNet).
        public var block: Block
        /// Blocks in layer1 … layer4.
        public var layers: [Int]
        /// Groups of each bottleneck's 3×3 convolution (32 for ResNeXt-50 32×4d).
        public var groups = 1
        /// Bottleneck width per group (64 for ResNet, 4 for ResNeXt 32×4d, 128 for Wide ResNet-50-2).
        public var widthPerGroup = 64
        /// Channels of the stem and of layer1's blocks (64 in torchvision); layers double it.
        public var baseWidth = 64
        /// Outputs of the final linear layer.
        public var classes = 1000
        /// Height and width of the input.
        public var imageSize = 224

        /// A configuration; the defaults are torchvision's (one group, width 64, 1000 classes, 224×224).
        public init(block: Block, layers: [Int], groups: Int = 1, widthPerGroup: Int = 64, baseWidth: Int = 64, classes: Int = 1000, imageSize: Int = 224) {
            self.block = block; self.layers = layers; self.groups = groups; self.widthPerGroup = widthPerGroup
            self.baseWidth = baseWidth; self.classes = classes; self.imageSize = imageSize
        }

        /// torchvision `resnet18`: basic blocks, 2, 2, 2, 2.
        public static let resnet18 = Configuration(block: .basic, layers: [2, 2, 2, 2])
        /// torchvision `resnet34`: basic blocks, 3, 4, 6, 3.
        public static let resnet34 = Configuration(block: .basic, layers: [3, 4, 6, 3])
        /// torchvision `resnet50`: bottlenecks, 3, 4, 6, 3.
        public static let resnet50 = Configuration(block: .bottleneck, layers: [3, 4, 6, 3])
        /// torchvision `resnet101`: bottlenecks, 3, 4, 23, 3.
        public static let resnet101 = Configuration(block: .bottleneck, layers: [3, 4, 23, 3])
        /// torchvision `resnet152`: bottlenecks, 3, 8, 36, 3.
        public static let resnet152 = Configuration(block: .bottleneck, layers: [3, 8, 36, 3])
        /// torchvision `resnext50_32x4d`: bottlenecks of 32 groups of width 4, 3, 4, 6, 3.
        public static let resnext50_32x4d = Configuration(block: .bottleneck, layers: [3, 4, 6, 3], groups: 32, widthPerGroup: 4)
        /// torchvision `wide_resnet50_2`: bottlenecks twice as wide, 3, 4, 6, 3.
        public static let wide_resnet50_2 = Configuration(block: .bottleneck, layers: [3, 4, 6, 3], widthPerGroup: 128)
    }

    /// The architectures by torchvision's function names.
    public static let named: [String: Configuration] = [
        "resnet18": .resnet18, "resnet34": .resnet34, "resnet50": .resnet50, "resnet101": .resnet101,
        "resnet152": .resnet152, "resnext50_32x4d": .resnext50_32x4d, "wide_resnet50_2": .wide_resnet50_2,
    ]

    /// A freshly initialised network, weights drawn from `seed`: input `[N, 3, imageSize, imageSize]`,
    /// output `[N, classes]` logits.
    /// `initializeWeights: false` leaves convolution and linear weights unwritten, for a load
    /// that replaces every one of them (importers use it: no random draws, less memory).
    public static func build(_ c: Configuration, seed: UInt64 = 0, initializeWeights: Bool = true) -> Model {
        var b = GraphBuilder(seed: seed, initializeWeights: initializeWeights)
        let expansion = c.block == .basic ? 1 : 4
        var x = b.input("input", [nil, 3, c.imageSize, c.imageSize])
        x = b.conv("conv1", x, in: 3, out: c.baseWidth, kernel: 7, stride: 2, padding: Padding2D(3))
        x = b.batchNorm("bn1", x, channels: c.baseWidth)
        x = b.relu("relu", x)
        x = b.add("maxpool", MaxPoolOp(Window2D(kernel: Size2D(3), stride: Size2D(2), padding: Padding2D(1))), [x])
        var inplanes = c.baseWidth
        for (stage, blocks) in c.layers.enumerated() {
            let planes = c.baseWidth << stage
            for i in 0 ..< blocks {
                let stride = stage > 0 && i == 0 ? 2 : 1
                let p = "layer\(stage + 1).\(i)"
                var y: String
                switch c.block {
                case .basic:
                    y = b.conv(p + ".conv1", x, in: inplanes, out: planes, kernel: 3, stride: stride, padding: Padding2D(1))
                    y = b.batchNorm(p + ".bn1", y, channels: planes)
                    y = b.relu(p + ".relu", y)
                    y = b.conv(p + ".conv2", y, in: planes, out: planes, kernel: 3, padding: Padding2D(1))
                    y = b.batchNorm(p + ".bn2", y, channels: planes)
                case .bottleneck:
                    let width = planes * c.widthPerGroup / 64 * c.groups
                    y = b.conv(p + ".conv1", x, in: inplanes, out: width, kernel: 1)
                    y = b.batchNorm(p + ".bn1", y, channels: width)
                    y = b.relu(p + ".relu", y)
                    y = b.conv(p + ".conv2", y, in: width, out: width, kernel: 3, stride: stride, padding: Padding2D(1), groups: c.groups)
                    y = b.batchNorm(p + ".bn2", y, channels: width)
                    y = b.relu(p + ".relu", y)
                    y = b.conv(p + ".conv3", y, in: width, out: planes * expansion, kernel: 1)
                    y = b.batchNorm(p + ".bn3", y, channels: planes * expansion)
                }
                // Declared after the main branch, as torchvision's state dict lists it.
                var identity = x
                if stride != 1 || inplanes != planes * expansion {
                    identity = b.conv(p + ".downsample.0", x, in: inplanes, out: planes * expansion, kernel: 1, stride: stride)
                    identity = b.batchNorm(p + ".downsample.1", identity, channels: planes * expansion)
                }
                y = b.add(p + ".add", BinaryOp(.add), [y, identity])
                x = b.relu(p + ".relu", y)
                inplanes = planes * expansion
            }
        }
        x = b.add("avgpool", GlobalAvgPoolOp(), [x])
        x = b.add("flatten", FlattenOp(axis: 1), [x])
        x = b.linear("fc", x, in: inplanes, out: c.classes)
        var model = b.build(outputs: [x])
        model.metadata["architecture"] = "resnet"
        return model
    }
}
