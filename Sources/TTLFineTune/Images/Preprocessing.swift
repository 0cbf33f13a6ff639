// Image → network input: resize, crop, scale to 0–1, normalise. Part of a model (stored with
// it, carried in exports as the `preprocessing` metadata key), so that any runtime can feed it.
import Foundation
import TTLCore

/// How a model wants its images.
public struct Preprocessing: Codable, Equatable, Sendable {
    public enum Resize: String, Codable, Sendable {
        /// Shorter side to `size · 256/224`, then the centre `size × size` (torchvision's ImageNet eval).
        case crop
        /// The whole image to `size × size`, aspect ratio not kept (Keras pipelines).
        case squash
    }
    public var size: Int
    public var resize: Resize
    /// Per-channel mean and standard deviation on the 0–1 scale: input = (pixel/255 − mean)/std.
    public var mean: [Float]
    public var std: [Float]

    public init(size: Int = 224, resize: Resize = .crop, mean: [Float] = Preprocessing.imagenetMean, std: [Float] = Preprocessing.imagenetStd) {
        self.size = size; self.resize = resize; self.mean = mean; self.std = std
    }

    public static let imagenetMean: [Float] = [0.485, 0.456, 0.406]
    public static let imagenetStd: [Float] = [0.229, 0.224, 0.225]
    /// ImageNet's, at 224 with torchvision's crop.
    public static let imagenet = Preprocessing()

    /// The metadata value: `{"mean":[…],"resize":"crop","size":224,"std":[…]}`.
    public var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: (try? encoder.encode(self)) ?? Data(), as: UTF8.self)
    }

    public init?(json: String) {
        guard let p = try? JSONDecoder().decode(Preprocessing.self, from: Data(json.utf8)),
              p.size > 0, p.mean.count == 3, p.std.count == 3, p.std.allSatisfy({ $0 > 0 }) else { return nil }
        self = p
    }

    /// The size a decoded image must keep (for reduced-scale JPEG decoding): the shorter side
    /// at least the resize target.
    public func minimumDecodeSize(width: Int, height: Int) -> (width: Int, height: Int) {
        let target = resize == .crop ? resizeTarget : size
        if resize == .squash { return (size, size) }
        let short = min(width, height)
        return (max(1, target * width / short), max(1, target * height / short))
    }

    var resizeTarget: Int { Int((Double(size) * 256 / 224).rounded()) }

    /// The image as a `[3, size, size]` tensor.
    public func apply(_ image: RGBImage) -> Tensor {
        let (w, h) = (image.width, image.height)
        var outW = size, outH = size
        if resize == .crop {
            // torchvision Resize(int): the shorter side becomes the target, the longer keeps the ratio (truncated).
            let target = resizeTarget
            if w <= h { outW = target; outH = Int(Double(target) * Double(h) / Double(w)) } else { outH = target; outW = Int(Double(target) * Double(w) / Double(h)) }
        }
        let resized = Resampler.resize(image, width: outW, height: outH)
        // torchvision CenterCrop: offsets round((H − size)/2) with Python's round (half to even).
        let top = resize == .crop ? Int((Double(outH - size) / 2).rounded(.toNearestOrEven)) : 0
        let left = resize == .crop ? Int((Double(outW - size) / 2).rounded(.toNearestOrEven)) : 0
        let plane = size * size
        return Tensor(uninitialized: [3, size, size]) { out in
            for c in 0 ..< 3 {
                let scale = 1 / (255 * std[c]), shift = mean[c] / std[c]
                for y in 0 ..< size {
                    let row = (top + y) * outW
                    for x in 0 ..< size {
                        out[c * plane + y * size + x] = resized[(row + left + x) * 3 + c] * scale - shift
                    }
                }
            }
        }
    }
}

/// Separable bilinear resampling with antialiasing (the triangle filter widened by the
/// downscale factor, as PIL's `Image.resize(BILINEAR)` does), in float.
enum Resampler {
    /// Output `height · width · 3` floats on the 0–255 scale.
    static func resize(_ image: RGBImage, width outW: Int, height outH: Int) -> [Float] {
        let (w, h) = (image.width, image.height)
        let horizontal = weights(from: w, to: outW), vertical = weights(from: h, to: outH)
        // Horizontal pass: h × outW × 3.
        var mid = [Float](repeating: 0, count: h * outW * 3)
        image.pixels.withUnsafeBufferPointer { src in
            mid.withUnsafeMutableBufferPointer { dst in
                parallelFor(h, costPerItem: outW * 8) { y in
                    for x in 0 ..< outW {
                        let (start, ws) = horizontal[x]
                        var r: Float = 0, g: Float = 0, b: Float = 0
                        for (k, wt) in ws.enumerated() {
                            let p = (y * w + start + k) * 3
                            r += wt * Float(src[p]); g += wt * Float(src[p + 1]); b += wt * Float(src[p + 2])
                        }
                        let o = (y * outW + x) * 3
                        dst[o] = r; dst[o + 1] = g; dst[o + 2] = b
                    }
                }
            }
        }
        var out = [Float](repeating: 0, count: outH * outW * 3)
        mid.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                parallelFor(outH, costPerItem: outW * 8) { y in
                    let (start, ws) = vertical[y]
                    for x in 0 ..< outW * 3 {
                        var acc: Float = 0
                        for (k, wt) in ws.enumerated() { acc += wt * src[(start + k) * outW * 3 + x] }
                        dst[y * outW * 3 + x] = acc
                    }
                }
            }
        }
        return out
    }

    /// For each output index: the first input index and the normalised filter weights.
    static func weights(from n: Int, to m: Int) -> [(Int, [Float])] {
        let scale = Double(n) / Double(m)
        let filterScale = max(scale, 1)
        let support = filterScale  // bilinear: support 1, widened when shrinking
        return (0 ..< m).map { i in
            let center = (Double(i) + 0.5) * scale
            let lo = max(Int(center - support + 0.5), 0), hi = min(Int(center + support + 0.5), n)
            var ws = (lo ..< hi).map { j -> Double in max(0, 1 - abs((Double(j) - center + 0.5) / filterScale)) }
            let total = ws.reduce(0, +)
            if total > 0 { ws = ws.map { $0 / total } }
            return (lo, ws.map(Float.init))
        }
    }
}
