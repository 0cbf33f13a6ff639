import TTLCore

/// The Keras applications ResNet50/101/152 (v1: stride on the first 1×1 of a block, biased
/// convolutions, batch norm ε 1.001e-5) and ResNet50V2/101V2/152V2 (pre-activation, stride on
/// the last block of a stack), with Keras's layer names as nodes (`conv2_block1_1_conv`) and
/// parameter paths `layer.weight`, `layer.bias`, `layer.running_mean`, `layer.running_var`
/// in ttl's layout (OIHW kernels, `[out, in]` dense weights). Input `[N, 3, size, size]` (the
/// Keras importer puts the NHWC adapter in front); output the softmax probabilities, as Keras.
public enum KerasResNet {
    /// The depth, variant, classes and input size of a Keras ResNet.
    public struct Configuration: Sendable {
        /// Blocks in conv2 … conv5.
        public var stacks: [Int]
        /// True for the V2 (pre-activation) variants.
        public var preactivation: Bool
        /// Outputs of the final dense layer.
        public var classes = 1000
        /// Height and width of the input.
        public var imageSize = 224
        /// Filters of the first stack's blocks (doubling with each stack; 4× at a block's output).
        public var baseFilters = 64
        /// A configuration; `classes`, `imageSize` and `baseFilters` default to Keras's 1000, 224 and 64.
        public init(stacks: [Int], preactivation: Bool, classes: Int = 1000, imageSize: Int = 224, baseFilters: Int = 64) {
            self.stacks = stacks; self.preactivation = preactivation; self.classes = classes; self.imageSize = imageSize
            self.baseFilters = baseFilters
        }
        /// `keras.applications.ResNet50`: 3, 4, 6, 3 blocks.
        public static let resnet50 = Configuration(stacks: [3, 4, 6, 3], preactivation: false)
        /// `keras.applications.ResNet101`: 3, 4, 23, 3 blocks.
        public static let resnet101 = Configuration(stacks: [3, 4, 23, 3], preactivation: false)
        /// `keras.applications.ResNet152`: 3, 8, 36, 3 blocks.
        public static let resnet152 = Configuration(stacks: [3, 8, 36, 3], preactivation: false)
        /// `keras.applications.ResNet50V2`: 3, 4, 6, 3 pre-activation blocks.
        public static let resnet50v2 = Configuration(stacks: [3, 4, 6, 3], preactivation: true)
        /// `keras.applications.ResNet101V2`: 3, 4, 23, 3 pre-activation blocks.
        public static let resnet101v2 = Configuration(stacks: [3, 4, 23, 3], preactivation: true)
        /// `keras.applications.ResNet152V2`: 3, 8, 36, 3 pre-activation blocks.
        public static let resnet152v2 = Configuration(stacks: [3, 8, 36, 3], preactivation: true)
    }

    /// The architectures by the names `ttl import --arch` takes.
    public static let named: [String: Configuration] = [
        "resnet50": .resnet50, "resnet101": .resnet101, "resnet152": .resnet152,
        "resnet50v2": .resnet50v2, "resnet101v2": .resnet101v2, "resnet152v2": .resnet152v2,
    ]

    static let epsilon: Float = 1.001e-5
    /// Keras's BatchNormalization momentum 0.99, in PyTorch's convention.
    static let momentum: Float = 0.01

    /// A freshly initialised network, weights drawn from `seed`: input `[N, 3, imageSize, imageSize]`,
    /// output `[N, classes]` softmax probabilities.
    public static func build(_ c: Configuration, seed: UInt64 = 0) -> Model {
        var b = GraphBuilder(seed: seed)
        var x = b.input("input", [nil, 3, c.imageSize, c.imageSize])
        x = b.add("conv1_pad", PadOp(Padding2D(3)), [x])
        x = b.conv("conv1_conv", x, in: 3, out: 64, kernel: 7, stride: 2, bias: true)
        if !c.preactivation {
            x = b.batchNorm("conv1_bn", x, channels: 64, epsilon: epsilon, momentum: momentum)
            x = b.relu("conv1_relu", x)
        }
        x = b.add("pool1_pad", PadOp(Padding2D(1)), [x])
        x = b.add("pool1_pool", MaxPoolOp(Window2D(kernel: Size2D(3), stride: Size2D(2))), [x])
        var channels = 64
        for (s, blocks) in c.stacks.enumerated() {
            let filters = c.baseFilters << s
            for i in 1 ... blocks {
                let name = "conv\(s + 2)_block\(i)"
                if c.preactivation {
                    // Stride on the last block of every stack but the last (Keras stack_residual_blocks_v2).
                    let stride = i == blocks && s < c.stacks.count - 1 ? 2 : 1
                    x = blockV2(&b, x, in: channels, filters: filters, stride: stride, convShortcut: i == 1, name: name)
                } else {
                    let stride = i == 1 && s > 0 ? 2 : 1
                    x = blockV1(&b, x, in: channels, filters: filters, stride: stride, convShortcut: i == 1, name: name)
                }
                channels = 4 * filters
            }
        }
        if c.preactivation {
            x = b.batchNorm("post_bn", x, channels: channels, epsilon: epsilon, momentum: momentum)
            x = b.relu("post_relu", x)
        }
        x = b.add("avg_pool", GlobalAvgPoolOp(), [x])
        x = b.add("avg_pool_flatten", FlattenOp(axis: 1), [x])
        x = b.linear("predictions", x, in: channels, out: c.classes)
        x = b.add("predictions_softmax", SoftmaxOp(axis: -1), [x])
        var model = b.build(outputs: [x])
        model.metadata["architecture"] = c.preactivation ? "keras-resnet-v2" : "keras-resnet"
        return model
    }

    static func blockV1(_ b: inout GraphBuilder, _ x: String, in cin: Int, filters: Int, stride: Int, convShortcut: Bool, name: String) -> String {
        var shortcut = x
        if convShortcut {
            shortcut = b.conv(name + "_0_conv", x, in: cin, out: 4 * filters, kernel: 1, stride: stride, bias: true)
            shortcut = b.batchNorm(name + "_0_bn", shortcut, channels: 4 * filters, epsilon: epsilon, momentum: momentum)
        }
        var y = b.conv(name + "_1_conv", x, in: cin, out: filters, kernel: 1, stride: stride, bias: true)
        y = b.batchNorm(name + "_1_bn", y, channels: filters, epsilon: epsilon, momentum: momentum)
        y = b.relu(name + "_1_relu", y)
        y = b.conv(name + "_2_conv", y, in: filters, out: filters, kernel: 3, padding: Padding2D(1), bias: true)
        y = b.batchNorm(name + "_2_bn", y, channels: filters, epsilon: epsilon, momentum: momentum)
        y = b.relu(name + "_2_relu", y)
        y = b.conv(name + "_3_conv", y, in: filters, out: 4 * filters, kernel: 1, bias: true)
        y = b.batchNorm(name + "_3_bn", y, channels: 4 * filters, epsilon: epsilon, momentum: momentum)
        y = b.add(name + "_add", BinaryOp(.add), [shortcut, y])
        return b.relu(name + "_out", y)
    }

    static func blockV2(_ b: inout GraphBuilder, _ x: String, in cin: Int, filters: Int, stride: Int, convShortcut: Bool, name: String) -> String {
        var preact = b.batchNorm(name + "_preact_bn", x, channels: cin, epsilon: epsilon, momentum: momentum)
        preact = b.relu(name + "_preact_relu", preact)
        var shortcut = x
        if convShortcut {
            shortcut = b.conv(name + "_0_conv", preact, in: cin, out: 4 * filters, kernel: 1, stride: stride, bias: true)
        } else if stride > 1 {
            shortcut = b.add(name + "_0_maxpool", MaxPoolOp(Window2D(kernel: Size2D(1), stride: Size2D(stride))), [x])
        }
        var y = b.conv(name + "_1_conv", preact, in: cin, out: filters, kernel: 1)
        y = b.batchNorm(name + "_1_bn", y, channels: filters, epsilon: epsilon, momentum: momentum)
        y = b.relu(name + "_1_relu", y)
        y = b.add(name + "_2_pad", PadOp(Padding2D(1)), [y])
        y = b.conv(name + "_2_conv", y, in: filters, out: filters, kernel: 3, stride: stride)
        y = b.batchNorm(name + "_2_bn", y, channels: filters, epsilon: epsilon, momentum: momentum)
        y = b.relu(name + "_2_relu", y)
        y = b.conv(name + "_3_conv", y, in: filters, out: 4 * filters, kernel: 1, bias: true)
        return b.add(name + "_out", BinaryOp(.add), [shortcut, y])
    }
}
