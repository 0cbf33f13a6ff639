// Image files → a network's input batch: decode, (augment,) preprocess, in parallel. The one
// image pipeline: `Classifier` (predict, evaluate), the feature extractor and both training
// loops call it; none of them reaches into another for it.
import Foundation
import TTLCore
import TTLNN

extension Preprocessing {
    /// Decodes and preprocesses image files into a `[N, 3, size, size]` batch, in parallel.
    /// `augment` draws a random resized crop and flip per image from `seed` (``Augmentation``),
    /// then squashes the crop to `size`; otherwise the image is decoded at reduced scale where
    /// that keeps ``minimumDecodeSize(width:height:)`` and preprocessed as ``apply(_:)``.
    /// - Returns: `[urls.count, 3, size, size]`
    /// - Throws: an ``ImageError`` for a file that cannot be read or decoded
    public func batch(_ urls: [URL], augment: Bool = false, seed: UInt64 = 0) throws -> Tensor {
        let n = urls.count, plane = 3 * size * size
        var out = Tensor(zeros: [n, 3, size, size])
        var failure: (any Error)? = nil
        let lock = NSLock()
        out.withUnsafeMutableBufferPointer { buf in
            parallelFor(n, costPerItem: 1 << 20) { i in
                do {
                    let url = urls[i]
                    var image: RGBImage
                    if augment {
                        image = try ImageDecoder.decode(contentsOf: url)
                        var rng = SplitMix64(seed: seed &+ UInt64(i) &* 0x9E37_79B9)
                        image = Augmentation.randomResizedCrop(image, using: &rng)
                    } else {
                        image = try ImageDecoder.decode(contentsOf: url, minimumSize: minimumDecodeSize)
                    }
                    let t = (augment ? Preprocessing(size: size, resize: .squash, mean: mean, std: std) : self).apply(image)
                    t.withUnsafeBufferPointer { src in (buf.baseAddress! + i * plane).update(from: src.baseAddress!, count: plane) }
                } catch {
                    lock.withLock { failure = failure ?? error }
                }
            }
        }
        if let failure { throw failure }
        return out
    }
}
