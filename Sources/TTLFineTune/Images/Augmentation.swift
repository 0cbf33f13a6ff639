// Training-time image augmentation.
import Foundation
import TTLCore

/// Training-time image augmentation (torchvision RandomResizedCrop's defaults and a horizontal flip).
enum Augmentation {
    /// A crop of 8–100 % of the area with aspect ratio 3/4–4/3 (10 tries, then the centre),
    /// flipped horizontally half the time.
    static func randomResizedCrop(_ image: RGBImage, using rng: inout SplitMix64) -> RGBImage {
        let (w, h) = (image.width, image.height)
        var (cw, ch, x0, y0) = (w, h, 0, 0)
        for _ in 0 ..< 10 {
            let area = Double(w * h) * rng.uniform(0.08, 1)
            let ratio = exp(rng.uniform(log(3.0 / 4), log(4.0 / 3)))
            let tw = Int((area * ratio).squareRoot().rounded()), th = Int((area / ratio).squareRoot().rounded())
            if tw > 0 && th > 0 && tw <= w && th <= h {
                (cw, ch) = (tw, th)
                x0 = Int(rng.next() % UInt64(w - tw + 1))
                y0 = Int(rng.next() % UInt64(h - th + 1))
                break
            }
        }
        let flip = rng.next() & 1 == 1
        var pixels = [UInt8](repeating: 0, count: cw * ch * 3)
        for y in 0 ..< ch {
            for x in 0 ..< cw {
                let sx = x0 + (flip ? cw - 1 - x : x)
                for c in 0 ..< 3 { pixels[(y * cw + x) * 3 + c] = image.pixels[((y0 + y) * w + sx) * 3 + c] }
            }
        }
        return RGBImage(width: cw, height: ch, pixels: pixels)
    }
}
