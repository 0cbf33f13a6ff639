// Recognises a built-in architecture from a state dict's keys and shapes. torchvision's
// ResNet family (ResNet, ResNeXt, Wide ResNet) shares one naming scheme, so the block type,
// the blocks per stage, the width, the groups and the classes all follow from the keys:
//   conv1.weight              [base, 3, 7, 7]
//   layer{s}.{i}.conv3.weight present → bottleneck blocks, absent → basic blocks
//   layer1.0.conv2.weight     [width, width / groups, 3, 3], width = base · widthPerGroup / 64 · groups
//   fc.weight                 [classes, features]
import TTLCore
import TTLNN

/// A built-in architecture recognised from (or named for) a state dict.
public struct TorchArchitecture: Sendable {
    /// torchvision's function name when the configuration is one of torchvision's (`resnet50`,
    /// `resnext50_32x4d`); otherwise the family's naming rule with the base width (`resnet10-w4`).
    public var name: String
    /// The configuration to build.
    public var configuration: ResNet.Configuration

    /// The torchvision-style name of a configuration: `resnet{depth}`, `resnext{depth}_{groups}x{width}d`
    /// or `wide_resnet{depth}_{factor}`, with `-w{base}` when the base width is not 64.
    public static func name(of c: ResNet.Configuration) -> String {
        let blocks = c.layers.reduce(0, +)
        let depth = (c.block == .basic ? 2 : 3) * blocks + 2
        var name: String
        if c.groups > 1 {
            name = "resnext\(depth)_\(c.groups)x\(c.widthPerGroup)d"
        } else if c.widthPerGroup != 64, c.widthPerGroup % 64 == 0 {
            name = "wide_resnet\(depth)_\(c.widthPerGroup / 64)"
        } else {
            name = "resnet\(depth)" + (c.widthPerGroup != 64 ? "_w\(c.widthPerGroup)" : "")
        }
        return c.baseWidth == 64 ? name : name + "-w\(c.baseWidth)"
    }

    /// The architecture of a state dict given as its keys and shapes; nil when the keys are not a
    /// torchvision ResNet's. `problem` explains a near miss (ResNet keys with inconsistent shapes).
    public static func detect(_ shapes: [String: [Int]]) -> Result<TorchArchitecture, DetectionFailure> {
        guard let conv1 = shapes["conv1.weight"], conv1.count == 4, conv1[1] == 3, conv1[0] > 0,
              let fc = shapes["fc.weight"], fc.count == 2, shapes["layer1.0.conv1.weight"] != nil else {
            return .failure(DetectionFailure(message: "the keys are not a torchvision ResNet's (no conv1.weight [C, 3, kH, kW], layer1.0.conv1.weight and fc.weight)"))
        }
        var layers: [Int] = []
        for stage in 1 ... 4 {
            var n = 0
            while shapes["layer\(stage).\(n).conv1.weight"] != nil { n += 1 }
            guard n > 0 else { return .failure(DetectionFailure(message: "no layer\(stage).0: ttl's ResNets have four stages")) }
            layers.append(n)
        }
        if shapes["layer5.0.conv1.weight"] != nil { return .failure(DetectionFailure(message: "a fifth stage (layer5): not a torchvision ResNet")) }
        let bottleneck = shapes["layer1.0.conv3.weight"] != nil
        let base = conv1[0]
        var groups = 1, widthPerGroup = 64
        if bottleneck {
            guard let c2 = shapes["layer1.0.conv2.weight"], c2.count == 4, c2[1] > 0, c2[0] % c2[1] == 0 else {
                return .failure(DetectionFailure(message: "layer1.0.conv2.weight is not [width, width / groups, 3, 3]"))
            }
            groups = c2[0] / c2[1]
            // width = base · widthPerGroup / 64 · groups (integer division, as torchvision).
            let (scaled, overflow) = c2[1].multipliedReportingOverflow(by: 64)
            guard !overflow else { return .failure(DetectionFailure(message: "layer1.0.conv2.weight is too wide")) }
            widthPerGroup = scaled / base
            guard base * widthPerGroup / 64 * groups == c2[0] else {
                return .failure(DetectionFailure(message: "layer1.0.conv2.weight \(c2) fits no width per group for a base width of \(base)"))
            }
        }
        let c = ResNet.Configuration(block: bottleneck ? .bottleneck : .basic, layers: layers, groups: groups,
                                     widthPerGroup: widthPerGroup, baseWidth: base, classes: fc[0])
        return .success(TorchArchitecture(name: name(of: c), configuration: c))
    }

    /// Why ``detect(_:)`` found no architecture.
    public struct DetectionFailure: Error, Sendable { public var message: String }

    /// The torchvision function names ttl builds (`--arch`).
    public static var names: [String] { ResNet.named.keys.sorted() }

    /// A named architecture; `classes` and the base width come from the state dict when it has them.
    public static func named(_ name: String, shapes: [String: [Int]]) -> TorchArchitecture? {
        guard var c = ResNet.named[name.lowercased()] else { return nil }
        if let fc = shapes["fc.weight"], fc.count == 2 { c.classes = fc[0] }
        return TorchArchitecture(name: name.lowercased(), configuration: c)
    }
}
