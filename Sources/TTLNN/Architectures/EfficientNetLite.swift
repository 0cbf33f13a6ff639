import TTLCore

/// EfficientNet-Lite (Google's mobile variant: no squeeze-excitation, ReLU6, stem and head
/// not scaled), with efficientnet_pytorch's parameter names (`_blocks.3._depthwise_conv.weight`)
/// and TensorFlow 'SAME' padding computed for the configured image size. Batch norm ε 1e-3.
/// Input `[N, 3, size, size]` scaled as the weights expect ((x − 127)/128 for Lite0);
/// output the logits.
public enum EfficientNetLite {
    /// One stage of mobile inverted bottleneck blocks.
    public struct Stage: Sendable {
        /// Channel expansion of the block's first 1×1 convolution (1: no such convolution), depthwise kernel size, stride of the
        /// stage's first block, channels into the first block and out of every block, and number of blocks.
        public var expandRatio: Int, kernel: Int, stride: Int, inChannels: Int, outChannels: Int, repeats: Int
        /// A stage of `repeats` blocks; only the first takes `inChannels` and `stride`.
        public init(expandRatio: Int, kernel: Int, stride: Int, inChannels: Int, outChannels: Int, repeats: Int) {
            self.expandRatio = expandRatio; self.kernel = kernel; self.stride = stride
            self.inChannels = inChannels; self.outChannels = outChannels; self.repeats = repeats
        }
    }

    /// The widths and stages of one EfficientNet-Lite variant, its classes and its input size.
    public struct Configuration: Sendable {
        /// Output channels of the stem's 3×3 stride-2 convolution.
        public var stemChannels: Int
        /// The stages of inverted bottleneck blocks, in order.
        public var stages: [Stage]
        /// Output channels of the 1×1 convolution before pooling.
        public var headChannels: Int
        /// Outputs of the final linear layer.
        public var classes = 1000
        /// Height and width of the input, which fix the 'SAME' paddings.
        public var imageSize = 224
        /// TensorFlow 'SAME' padding (the TF-trained weights: efficientnet_pytorch, timm's `tf_`
        /// variants) or PyTorch's symmetric `k / 2` (timm's `efficientnet_lite*`).
        public var padding: PaddingStyle = .tensorflowSame
        /// Batch norm ε: TensorFlow's 1e-3, or PyTorch's 1e-5 for timm's PyTorch-trained variants.
        public var batchNormEpsilon: Float = 1e-3
        /// A configuration; `classes` and `imageSize` default to ImageNet's 1000 and 224.
        public init(stemChannels: Int, stages: [Stage], headChannels: Int, classes: Int = 1000, imageSize: Int = 224) {
            self.stemChannels = stemChannels; self.stages = stages; self.headChannels = headChannels
            self.classes = classes; self.imageSize = imageSize
        }

        /// EfficientNet-Lite0: width and depth multipliers 1.0, 224×224, 4.65 M parameters.
        public static let lite0 = Configuration(stemChannels: 32, stages: [
            Stage(expandRatio: 1, kernel: 3, stride: 1, inChannels: 32, outChannels: 16, repeats: 1),
            Stage(expandRatio: 6, kernel: 3, stride: 2, inChannels: 16, outChannels: 24, repeats: 2),
            Stage(expandRatio: 6, kernel: 5, stride: 2, inChannels: 24, outChannels: 40, repeats: 2),
            Stage(expandRatio: 6, kernel: 3, stride: 2, inChannels: 40, outChannels: 80, repeats: 3),
            Stage(expandRatio: 6, kernel: 5, stride: 1, inChannels: 80, outChannels: 112, repeats: 3),
            Stage(expandRatio: 6, kernel: 5, stride: 2, inChannels: 112, outChannels: 192, repeats: 4),
            Stage(expandRatio: 6, kernel: 3, stride: 1, inChannels: 192, outChannels: 320, repeats: 1),
        ], headChannels: 1280)
    }

    /// How the stride-2 and depthwise convolutions pad.
    public enum PaddingStyle: String, Sendable { case tensorflowSame, symmetric }

    /// TensorFlow's batch norm momentum 0.99, in PyTorch's convention.
    static let momentum: Float = 0.01

    /// A freshly initialised network, weights drawn from `seed`: input `[N, 3, imageSize, imageSize]`,
    /// output `[N, classes]` logits.
    /// `initializeWeights: false` leaves convolution and linear weights unwritten, for a load
    /// that replaces every one of them (importers use it: no random draws, less memory).
    public static func build(_ c: Configuration, seed: UInt64 = 0, initializeWeights: Bool = true) -> Model {
        var b = GraphBuilder(seed: seed, initializeWeights: initializeWeights)
        let epsilon = c.batchNormEpsilon
        var size = c.imageSize
        func same(_ k: Int, _ s: Int) -> Padding2D {
            defer { size = (size + s - 1) / s }
            if c.padding == .symmetric { return Padding2D(k / 2) }
            return .same(input: Size2D(size), kernel: Size2D(k), stride: Size2D(s))
        }
        var x = b.input("input", [nil, 3, c.imageSize, c.imageSize])
        x = b.conv("_conv_stem", x, in: 3, out: c.stemChannels, kernel: 3, stride: 2, padding: same(3, 2))
        x = b.batchNorm("_bn0", x, channels: c.stemChannels, epsilon: epsilon, momentum: momentum)
        x = b.relu6("_relu0", x)
        var index = 0
        for stage in c.stages {
            for r in 0 ..< stage.repeats {
                let cin = r == 0 ? stage.inChannels : stage.outChannels
                let stride = r == 0 ? stage.stride : 1
                let p = "_blocks.\(index)"
                let hidden = cin * stage.expandRatio
                var y = x
                if stage.expandRatio != 1 {
                    y = b.conv(p + "._expand_conv", y, in: cin, out: hidden, kernel: 1)
                    y = b.batchNorm(p + "._bn0", y, channels: hidden, epsilon: epsilon, momentum: momentum)
                    y = b.relu6(p + "._relu0", y)
                }
                y = b.conv(p + "._depthwise_conv", y, in: hidden, out: hidden, kernel: stage.kernel, stride: stride,
                           padding: same(stage.kernel, stride), groups: hidden)
                y = b.batchNorm(p + "._bn1", y, channels: hidden, epsilon: epsilon, momentum: momentum)
                y = b.relu6(p + "._relu1", y)
                y = b.conv(p + "._project_conv", y, in: hidden, out: stage.outChannels, kernel: 1)
                y = b.batchNorm(p + "._bn2", y, channels: stage.outChannels, epsilon: epsilon, momentum: momentum)
                if stride == 1 && cin == stage.outChannels {
                    y = b.add(p + "._add", BinaryOp(.add), [y, x])
                }
                x = y
                index += 1
            }
        }
        let last = c.stages.last?.outChannels ?? c.stemChannels
        x = b.conv("_conv_head", x, in: last, out: c.headChannels, kernel: 1)
        x = b.batchNorm("_bn1", x, channels: c.headChannels, epsilon: epsilon, momentum: momentum)
        x = b.relu6("_relu1", x)
        x = b.add("_avg_pooling", GlobalAvgPoolOp(), [x])
        x = b.add("_flatten", FlattenOp(axis: 1), [x])
        x = b.add("_dropout", IdentityOp(type: "Dropout"), [x])
        x = b.linear("_fc", x, in: c.headChannels, out: c.classes)
        var model = b.build(outputs: [x])
        model.metadata["architecture"] = "efficientnet-lite"
        return model
    }
}
