// Option groups several commands share.
import ArgumentParser
import Foundation
import TTL
import TTLCore
import TTLNN
import TTLFineTune
import TTLHDF5
import TTLONNX

struct Threads: ParsableArguments {
    @Option(help: "Threads for ttl's kernels and BLAS (default: all cores, or $TTL_NUM_THREADS).")
    var threads: Int?

    func apply() { if let threads { ComputeThreads.count = max(1, threads) } }
}

/// `--mean`, `--std`, `--resize`, `--size`: set or override a model's preprocessing.
struct PreprocessingOptions: ParsableArguments {
    @Option(help: "Per-channel mean on the 0–1 scale, as R,G,B.") var mean: String?
    @Option(help: "Per-channel standard deviation on the 0–1 scale, as R,G,B.") var std: String?
    @Option(help: "crop (shorter side to size·256/224, centre crop) or squash (whole image to size).") var resize: String?
    @Option(help: "Input size in pixels (default: the model's).") var size: Int?
    @Option(help: "rgb, or bgr for networks trained on BGR images (Keras ResNet50/101/152); --mean and --std are then B,G,R.") var channels: String?

    /// Whether any option was given.
    var isSet: Bool { mean != nil || std != nil || resize != nil || size != nil || channels != nil }

    func apply(to model: Model) throws -> (Preprocessing, notice: String?) {
        var (p, notice): (Preprocessing, String?) = (Classifier.preprocessing(of: model), nil)
        if model.info.preprocessing == nil && (mean == nil || std == nil || resize == nil) {
            let defaults = [mean == nil ? "ImageNet's mean" : nil, std == nil ? "ImageNet's std" : nil, resize == nil ? "center crop" : nil].compactMap { $0 }
            notice = "the model carries no preprocessing: using \(defaults.joined(separator: ", ")) (set --mean, --std, --resize to change)"
        }
        func triple(_ s: String, _ name: String) throws -> [Float] {
            let v = s.split(separator: ",").compactMap { Float($0.trimmingCharacters(in: .whitespaces)) }
            guard v.count == 3 else { throw TTLError.usage("--\(name) takes three numbers, R,G,B (got '\(s)')") }
            return v
        }
        if let mean { p.mean = try triple(mean, "mean") }
        if let std {
            p.std = try triple(std, "std")
            guard p.std.allSatisfy({ $0 > 0 }) else { throw TTLError.usage("--std must be positive") }
        }
        if let resize {
            guard let r = Preprocessing.Resize(rawValue: resize) else { throw TTLError.usage("--resize takes crop or squash (got '\(resize)')") }
            p.resize = r
        }
        if let size { p.size = size }
        if let channels {
            guard let c = Preprocessing.ChannelOrder(rawValue: channels) else { throw TTLError.usage("--channels takes rgb or bgr (got '\(channels)')") }
            p.channels = c == .rgb ? nil : c
        }
        if let s = model.imageInputSize, s.height != p.size {
            throw TTLError.usage("the model takes \(s.height)×\(s.width) images; --size \(p.size) does not fit")
        }
        return (p, notice)
    }
}
