// Image → network input: resize, crop, scale to 0–1, normalise, as a model's ``Preprocessing``
// (the type lives in TTLNN, with the model's other typed metadata, see ModelInfo).
import Foundation
import TTLCore
import TTLNN

extension Preprocessing {
    /// The size a decoded image must keep (for reduced-scale JPEG decoding): twice the size it
    /// is resized to, so that the antialiased resize still averages over several source pixels
    /// and the result stays within a level or two of resizing the full image.
    public func minimumDecodeSize(width: Int, height: Int) -> (width: Int, height: Int) {
        if resize == .squash { return (2 * size, 2 * size) }
        let short = min(width, height)
        return (max(1, 2 * resizeTarget * width / short), max(1, 2 * resizeTarget * height / short))
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
        let resized = Resampler.resizedPixels(image, width: outW, height: outH)
        // torchvision CenterCrop: offsets round((H − size)/2) with Python's round (half to even).
        let top = resize == .crop ? Int((Double(outH - size) / 2).rounded(.toNearestOrEven)) : 0
        let left = resize == .crop ? Int((Double(outW - size) / 2).rounded(.toNearestOrEven)) : 0
        let plane = size * size
        let bgr = channels == .bgr
        return resized.withUnsafeBufferPointer { px in
            Tensor(uninitialized: [3, size, size]) { out in
                for c in 0 ..< 3 {
                    let scale = 1 / (255 * std[c]), shift = mean[c] / std[c]
                    let source = bgr ? 2 - c : c
                    for y in 0 ..< size {
                        let row = px.baseAddress! + ((top + y) * outW + left) * 3 + source
                        let dst = out.baseAddress! + c * plane + y * size
                        for x in 0 ..< size { dst[x] = Float(row[x * 3]) * scale - shift }
                    }
                }
            }
        }
    }
}

/// Separable bilinear resampling with antialiasing, exactly as PIL's `Image.resize(BILINEAR)`
/// on 8-bit images (which torchvision's and Keras's image pipelines call): the triangle filter
/// widened by the downscale factor, coefficients in 22-bit fixed point, a rounded 8-bit image
/// between the horizontal and the vertical pass. Bit-exact results keep ttl's predictions equal
/// to the reference frameworks' on the same files.
enum Resampler {
    static let precisionBits = 32 - 8 - 2

    /// Output `height · width · 3` values on the 0–255 scale.
    static func resize(_ image: RGBImage, width outW: Int, height outH: Int) -> [Float] {
        resizedPixels(image, width: outW, height: outH).map(Float.init)
    }

    /// The resized 8-bit pixels, `height · width · 3`.
    static func resizedPixels(_ image: RGBImage, width outW: Int, height outH: Int) -> [UInt8] {
        let (w, h) = (image.width, image.height)
        var pixels = image.pixels
        var (cw, ch) = (w, h)
        // Horizontal pass first, as Pillow's ImagingResampleInner does. (Pillow 13 was seen to run
        // the vertical pass first for some shapes, which moves a few pixels by one level.)
        if outW != cw {
            pixels = pass(pixels, count: ch, from: cw, to: outW, horizontal: true)
            cw = outW
        }
        if outH != ch {
            pixels = pass(pixels, count: cw, from: ch, to: outH, horizontal: false)
            ch = outH
        }
        precondition(cw == outW && ch == outH)
        return pixels
    }

    /// One separable pass over `count` lines of RGB pixels. The filter taps of every output
    /// index sit in one flat array at a fixed stride, read through pointers: the arithmetic
    /// (and its order) is Pillow's, the loops carry no array bookkeeping.
    static func pass(_ src: [UInt8], count: Int, from n: Int, to m: Int, horizontal: Bool) -> [UInt8] {
        let coefficients = weights(from: n, to: m)
        let stride = coefficients.map(\.1.count).max() ?? 0
        var starts = [Int](repeating: 0, count: m), taps = [Int](repeating: 0, count: m)
        var flat = [Int64](repeating: 0, count: m * stride)
        for (i, (start, ks)) in coefficients.enumerated() {
            starts[i] = start
            taps[i] = ks.count
            for (k, c) in ks.enumerated() { flat[i * stride + k] = c }
        }
        let (outWidth, outHeight) = horizontal ? (m, count) : (count, m)
        var out = [UInt8](repeating: 0, count: outWidth * outHeight * 3)
        let half = Int64(1) << (precisionBits - 1)
        src.withUnsafeBufferPointer { sb in
            out.withUnsafeMutableBufferPointer { db in
                flat.withUnsafeBufferPointer { fb in
                    let s = sb.baseAddress!, d = db.baseAddress!, f = fb.baseAddress!
                    parallelFor(horizontal ? count : m, costPerItem: (horizontal ? m : count) * 8) { job in
                        if horizontal {
                            let line = s + job * n * 3
                            var o = d + job * m * 3
                            for x in 0 ..< m {
                                var p = line + starts[x] * 3
                                let c = f + x * stride
                                var a0 = half, a1 = half, a2 = half
                                for k in 0 ..< taps[x] {
                                    let w = c[k]
                                    a0 += Int64(p[0]) * w; a1 += Int64(p[1]) * w; a2 += Int64(p[2]) * w
                                    p += 3
                                }
                                o[0] = clip8(a0); o[1] = clip8(a1); o[2] = clip8(a2)
                                o += 3
                            }
                        } else {
                            let c = f + job * stride, t = taps[job]
                            let first = s + starts[job] * count * 3
                            var o = d + job * count * 3
                            for x in 0 ..< count {
                                var p = first + x * 3
                                var a0 = half, a1 = half, a2 = half
                                for k in 0 ..< t {
                                    let w = c[k]
                                    a0 += Int64(p[0]) * w; a1 += Int64(p[1]) * w; a2 += Int64(p[2]) * w
                                    p += count * 3
                                }
                                o[0] = clip8(a0); o[1] = clip8(a1); o[2] = clip8(a2)
                                o += 3
                            }
                        }
                    }
                }
            }
        }
        return out
    }

    static func clip8(_ v: Int64) -> UInt8 {
        let shifted = v >> Int64(precisionBits)
        return shifted < 0 ? 0 : shifted > 255 ? 255 : UInt8(shifted)
    }

    /// For each output index: the first input index and the fixed-point filter weights.
    static func weights(from n: Int, to m: Int) -> [(Int, [Int64])] {
        let scale = Double(n) / Double(m)
        let filterScale = max(scale, 1)
        let support = filterScale  // bilinear: support 1, widened when shrinking
        return (0 ..< m).map { i in
            let center = (Double(i) + 0.5) * scale
            let lo = max(Int(center - support + 0.5), 0), hi = min(Int(center + support + 0.5), n)
            var ws = (lo ..< hi).map { j -> Double in max(0, 1 - abs((Double(j) - center + 0.5) / filterScale)) }
            let total = ws.reduce(0, +)
            if total != 0 { ws = ws.map { $0 / total } }
            let one = Double(Int64(1) << precisionBits)
            return (lo, ws.map { $0 < 0 ? Int64(-0.5 + $0 * one) : Int64(0.5 + $0 * one) })
        }
    }
}
