// Small JPEGs of images (thumbnails for reports) through libjpeg-turbo's TurboJPEG API.
import CTurboJPEG
import Foundation

/// Encodes ``RGBImage``s as JPEG.
public enum ImageEncoder {
    /// The image as a baseline JPEG (4:2:0 chroma, `quality` 1–100).
    public static func jpeg(_ image: RGBImage, quality: Int = 85) throws(ImageError) -> Data {
        guard image.width > 0, image.height > 0 else { throw ImageError(file: "(thumbnail)", .corrupt("an empty image has no JPEG")) }
        guard let handle = tjInitCompress() else { throw ImageError(file: "(thumbnail)", .corrupt("cannot start the JPEG encoder")) }
        defer { tjDestroy(handle) }
        var out: UnsafeMutablePointer<UInt8>? = nil
        var size: UInt = 0
        let status = image.pixels.withUnsafeBufferPointer { src in
            tjCompress2(handle, src.baseAddress, Int32(image.width), 0, Int32(image.height), Int32(TJPF_RGB.rawValue),
                        &out, &size, Int32(TJSAMP_420.rawValue), Int32(min(max(quality, 1), 100)), TJFLAG_ACCURATEDCT)
        }
        defer { if let out { tjFree(out) } }
        guard status == 0, let out else { throw ImageError(file: "(thumbnail)", .corrupt(String(cString: tjGetErrorStr2(handle)))) }
        return Data(bytes: out, count: Int(size))
    }
}

extension RGBImage {
    /// The image shrunk to fit `maxSide` × `maxSide`, keeping its aspect ratio, each output
    /// pixel the mean of the input pixels it covers (box filter); smaller images come back as
    /// they are.
    public func thumbnail(maxSide: Int) -> RGBImage {
        guard maxSide > 0, max(width, height) > maxSide else { return self }
        let scale = Double(maxSide) / Double(max(width, height))
        let w = max(1, Int((Double(width) * scale).rounded())), h = max(1, Int((Double(height) * scale).rounded()))
        var out = [UInt8](repeating: 0, count: w * h * 3)
        for y in 0 ..< h {
            let y0 = y * height / h, y1 = max(y0 + 1, (y + 1) * height / h)
            for x in 0 ..< w {
                let x0 = x * width / w, x1 = max(x0 + 1, (x + 1) * width / w)
                var sum = (0, 0, 0)
                for sy in y0 ..< y1 {
                    var i = (sy * width + x0) * 3
                    for _ in x0 ..< x1 {
                        sum.0 += Int(pixels[i]); sum.1 += Int(pixels[i + 1]); sum.2 += Int(pixels[i + 2])
                        i += 3
                    }
                }
                let n = (y1 - y0) * (x1 - x0), o = (y * w + x) * 3
                out[o] = UInt8(sum.0 / n); out[o + 1] = UInt8(sum.1 / n); out[o + 2] = UInt8(sum.2 / n)
            }
        }
        return RGBImage(width: w, height: h, pixels: out)
    }
}
