// EfficientNet-Lite state dicts under the two PyTorch namings, onto ttl's EfficientNetLite
// (which uses efficientnet_pytorch's names). timm's names map by one-way rules, and back:
//
//   timm                          efficientnet_pytorch (ttl)
//   conv_stem, bn1                _conv_stem, _bn0
//   blocks.S.I (flat index N)     _blocks.N
//     conv_dw, bn1, conv_pw, bn2    _depthwise_conv, _bn1, _project_conv, _bn2      (S = 0: no expansion)
//     conv_pw, bn1, conv_dw, bn2,   _expand_conv, _bn0, _depthwise_conv, _bn1,
//     conv_pwl, bn3                 _project_conv, _bn2
//   conv_head, bn2, classifier    _conv_head, _bn1, _fc
//
// The stages follow from the keys: a stage is a run of blocks with the same output channels,
// kernel and expansion; Lite has seven, whose strides are fixed (1, 2, 2, 2, 1, 2, 1). What
// the keys cannot say is the padding and batch-norm ε: efficientnet_pytorch's files and timm's
// `tf_efficientnet_lite*` are TensorFlow ports ('SAME', ε 1e-3), timm's `efficientnet_lite*`
// are PyTorch-trained (symmetric, ε 1e-5); for timm's names the variant is named with --arch.
import TTLCore
import TTLNN

enum TorchEfficientNet {
    /// Stage strides of every EfficientNet-Lite.
    static let strides = [1, 2, 2, 2, 1, 2, 1]

    /// The two namings of the same network.
    enum Naming: String { case efficientnetPytorch = "efficientnet_pytorch", timm }

    static func naming(of shapes: [String: [Int]]) -> Naming? {
        if shapes["_conv_stem.weight"] != nil, shapes["_fc.weight"] != nil { return .efficientnetPytorch }
        if shapes["conv_stem.weight"] != nil, shapes["classifier.weight"] != nil, shapes["blocks.0.0.conv_dw.weight"] != nil { return .timm }
        return nil
    }

    // MARK: timm → efficientnet_pytorch

    /// The efficientnet_pytorch name of each timm key, or nil for a key the rules do not cover.
    static func fromTimm(_ paths: [String]) -> [String: String] {
        // Flat block index of blocks.S.I: blocks of earlier stages counted first.
        var perStage: [Int: Int] = [:]
        for p in paths {
            let parts = p.split(separator: ".")
            if parts.count > 3, parts[0] == "blocks", let s = Int(parts[1]), let i = Int(parts[2]) { perStage[s] = max(perStage[s] ?? 0, i + 1) }
        }
        var firstIndex: [Int: Int] = [:]
        var n = 0
        for s in perStage.keys.sorted() { firstIndex[s] = n; n += perStage[s] ?? 0 }
        let expanded = Set(paths.compactMap { p -> String? in
            p.hasSuffix(".conv_pwl.weight") ? String(p.dropLast(".conv_pwl.weight".count)) : nil
        })
        let top = ["conv_stem": "_conv_stem", "bn1": "_bn0", "conv_head": "_conv_head", "bn2": "_bn1", "classifier": "_fc"]
        let inverted = ["conv_pw": "_expand_conv", "bn1": "_bn0", "conv_dw": "_depthwise_conv", "bn2": "_bn1", "conv_pwl": "_project_conv", "bn3": "_bn2"]
        let separable = ["conv_dw": "_depthwise_conv", "bn1": "_bn1", "conv_pw": "_project_conv", "bn2": "_bn2"]
        var out: [String: String] = [:]
        for p in paths {
            let parts = p.split(separator: ".").map(String.init)
            if parts.count == 2, let t = top[parts[0]] {
                out[p] = t + "." + parts[1]
            } else if parts.count == 5, parts[0] == "blocks", let s = Int(parts[1]), let i = Int(parts[2]), let first = firstIndex[s] {
                let block = "blocks.\(s).\(i)"
                guard let m = (expanded.contains(block) ? inverted : separable)[parts[3]] else { continue }
                out[p] = "_blocks.\(first + i).\(m).\(parts[4])"
            }
        }
        return out
    }

    /// The timm name of each efficientnet_pytorch path of a model with stages of `lengths` blocks (the inverse of ``fromTimm``).
    static func toTimm(_ paths: [String], stageLengths lengths: [Int], expanded: Set<Int>) -> [String: String] {
        var stageOf: [(Int, Int)] = []
        for (s, n) in lengths.enumerated() { for i in 0 ..< n { stageOf.append((s, i)) } }
        let top = ["_conv_stem": "conv_stem", "_bn0": "bn1", "_conv_head": "conv_head", "_bn1": "bn2", "_fc": "classifier"]
        let inverted = ["_expand_conv": "conv_pw", "_bn0": "bn1", "_depthwise_conv": "conv_dw", "_bn1": "bn2", "_project_conv": "conv_pwl", "_bn2": "bn3"]
        let separable = ["_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw", "_bn2": "bn2"]
        var out: [String: String] = [:]
        for p in paths {
            let parts = p.split(separator: ".").map(String.init)
            if parts.count == 2, let t = top[parts[0]] {
                out[p] = t + "." + parts[1]
            } else if parts.count == 4, parts[0] == "_blocks", let n = Int(parts[1]), n < stageOf.count,
                      let m = (expanded.contains(n) ? inverted : separable)[parts[2]] {
                out[p] = "blocks.\(stageOf[n].0).\(stageOf[n].1).\(m).\(parts[3])"
            }
        }
        return out
    }

    // MARK: configuration from the keys

    /// The configuration an efficientnet_pytorch-named state dict describes, and its stage lengths.
    static func detect(_ shapes: [String: [Int]]) -> Result<(EfficientNetLite.Configuration, [Int]), TorchArchitecture.DetectionFailure> {
        func fail(_ m: String) -> Result<(EfficientNetLite.Configuration, [Int]), TorchArchitecture.DetectionFailure> { .failure(.init(message: m)) }
        guard let stem = shapes["_conv_stem.weight"], stem.count == 4, stem[1] == 3, let head = shapes["_conv_head.weight"], head.count == 4,
              let fc = shapes["_fc.weight"], fc.count == 2 else { return fail("no _conv_stem.weight [C, 3, 3, 3], _conv_head.weight and _fc.weight") }
        var stages: [EfficientNetLite.Stage] = []
        var cin = stem[0]
        var n = 0
        while let dw = shapes["_blocks.\(n)._depthwise_conv.weight"] {
            guard dw.count == 4, dw[1] == 1, dw[2] == dw[3], let pr = shapes["_blocks.\(n)._project_conv.weight"], pr.count == 4, pr[1] == dw[0] else {
                return fail("block \(n): _depthwise_conv and _project_conv are not [hidden, 1, k, k] and [out, hidden, 1, 1]")
            }
            let hidden = dw[0], out = pr[0], kernel = dw[2]
            var expand = 1
            if let ex = shapes["_blocks.\(n)._expand_conv.weight"] {
                guard ex.count == 4, ex[1] == cin, ex[0] == hidden, cin > 0, hidden % cin == 0 else { return fail("block \(n): _expand_conv.weight \(ex) does not take \(cin) channels to \(hidden)") }
                expand = hidden / cin
            } else if hidden != cin {
                return fail("block \(n): no _expand_conv but \(hidden) depthwise channels from \(cin)")
            }
            if var last = stages.last, last.outChannels == out, last.kernel == kernel, last.expandRatio == expand {
                last.repeats += 1
                stages[stages.count - 1] = last
            } else {
                stages.append(EfficientNetLite.Stage(expandRatio: expand, kernel: kernel, stride: 1, inChannels: cin, outChannels: out, repeats: 1))
            }
            cin = out
            n += 1
        }
        guard stages.count == strides.count else { return fail("\(stages.count) stages of blocks; EfficientNet-Lite has \(strides.count)") }
        for i in stages.indices { stages[i].stride = strides[i] }
        guard head[1] == cin else { return fail("_conv_head.weight \(head) does not take the last block's \(cin) channels") }
        let c = EfficientNetLite.Configuration(stemChannels: stem[0], stages: stages, headChannels: head[0], classes: fc[0])
        return .success((c, stages.map(\.repeats)))
    }

    /// `lite0` when the configuration is Lite0's (any classes), otherwise `lite` with its widths.
    static func variantName(_ c: EfficientNetLite.Configuration) -> String {
        let l = EfficientNetLite.Configuration.lite0
        let same = c.stemChannels == l.stemChannels && c.headChannels == l.headChannels && c.stages.count == l.stages.count
            && zip(c.stages, l.stages).allSatisfy { $0.outChannels == $1.outChannels && $0.repeats == $1.repeats && $0.kernel == $1.kernel && $0.expandRatio == $1.expandRatio }
        return same ? "lite0" : "lite-" + c.stages.map { "\($0.outChannels)x\($0.repeats)" }.joined(separator: "-")
    }
}
