// JPEG through libjpeg-turbo's TurboJPEG API, PNG through libpng's simplified API.
// Grayscale, palette, RGBA (alpha dropped, as PIL's convert("RGB") does), 16-bit and CMYK
// all become 8-bit RGB. Dimensions are checked from the header before any pixel is decoded.
import CPNG
import CTurboJPEG
import Foundation

/// An 8-bit RGB image, rows top to bottom, pixels interleaved `R G B`.
public struct RGBImage: Sendable, Equatable {
    /// Pixels per row.
    public var width: Int
    /// Rows.
    public var height: Int
    /// `height · width · 3` bytes.
    public var pixels: [UInt8]
    /// An image of `pixels`, which must hold `height · width · 3` bytes.
    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(pixels.count == width * height * 3)
        self.width = width; self.height = height; self.pixels = pixels
    }
}

/// An image file that cannot be used.
public struct ImageError: Error, Equatable, CustomStringConvertible {
    /// What is wrong with the file.
    public enum Reason: Equatable, Sendable {
        /// The file cannot be read (the system's message).
        case unreadable(String)
        /// Neither JPEG nor PNG.
        case unknownFormat
        /// The decoder failed (its message).
        case corrupt(String)
        /// The header claims more pixels than ``ImageDecoder/maximumSide`` or ``ImageDecoder/maximumPixels``.
        case absurdDimensions(width: Int, height: Int)
    }
    /// The image file's path.
    public var file: String
    /// What is wrong.
    public var reason: Reason
    /// An error about `file`.
    public init(file: String, _ reason: Reason) { self.file = file; self.reason = reason }

    /// One line naming the file.
    public var description: String {
        switch reason {
        case let .unreadable(m): "\(file): cannot read: \(m)"
        case .unknownFormat: "\(file): not a JPEG or PNG image"
        case let .corrupt(m): "\(file): corrupt image: \(m)"
        case let .absurdDimensions(w, h): "\(file): the header claims \(w)×\(h) pixels, more than ttl accepts (\(ImageDecoder.maximumSide) per side, \(ImageDecoder.maximumPixels / 1_000_000) M pixels)"
        }
    }
}

/// Decodes JPEG and PNG files into 8-bit RGB.
public enum ImageDecoder {
    /// Headers claiming more than this are refused before decoding.
    public static let maximumSide = 30_000
    /// Headers claiming more pixels than this are refused before decoding.
    public static let maximumPixels = 200_000_000

    /// The formats ttl decodes.
    public enum Format: Sendable {
        /// JPEG (libjpeg-turbo).
        case jpeg
        /// PNG (libpng).
        case png
    }

    /// The format of an image file's bytes, from its signature; nil for anything else.
    public static func format(of data: Data) -> Format? {
        if data.starts(with: [0xFF, 0xD8, 0xFF]) { return .jpeg }
        if data.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return .png }
        return nil
    }

    /// Reads and decodes a file. `atLeast` lets a large JPEG decode at a reduced DCT scale
    /// (1/2, 1/4, 1/8, …) as long as both sides stay at least that large.
    public static func decode(contentsOf url: URL, atLeast: (width: Int, height: Int)? = nil) throws(ImageError) -> RGBImage {
        try decode(contentsOf: url, minimumSize: atLeast.map { size in { _, _ in size } })
    }

    /// `minimumSize(width, height)` gives, for the full size, the size a reduced decode must keep.
    public static func decode(contentsOf url: URL, minimumSize: ((Int, Int) -> (width: Int, height: Int))?) throws(ImageError) -> RGBImage {
        let data: Data
        do { data = try Data(contentsOf: url) } catch { throw ImageError(file: url.path, .unreadable(error.localizedDescription)) }
        return try decode(data, file: url.path, minimumSize: minimumSize)
    }

    /// Decodes a file's bytes (`file` names it in errors); `atLeast` as in ``decode(contentsOf:atLeast:)``.
    public static func decode(_ data: Data, file: String, atLeast: (width: Int, height: Int)? = nil) throws(ImageError) -> RGBImage {
        try decode(data, file: file, minimumSize: atLeast.map { size in { _, _ in size } })
    }

    /// Decodes a file's bytes (`file` names it in errors); `minimumSize` as in ``decode(contentsOf:minimumSize:)``.
    public static func decode(_ data: Data, file: String, minimumSize: ((Int, Int) -> (width: Int, height: Int))?) throws(ImageError) -> RGBImage {
        switch format(of: data) {
        case .jpeg?: return try decodeJPEG(data, file: file, minimumSize: minimumSize)
        case .png?: return try decodePNG(data, file: file)
        case nil: throw ImageError(file: file, .unknownFormat)
        }
    }

    static func checkDimensions(_ w: Int, _ h: Int, _ file: String) throws(ImageError) {
        guard w > 0, h > 0, w <= maximumSide, h <= maximumSide, w * h <= maximumPixels else {
            throw ImageError(file: file, .absurdDimensions(width: w, height: h))
        }
    }

    // MARK: JPEG

    static func decodeJPEG(_ data: Data, file: String, minimumSize: ((Int, Int) -> (width: Int, height: Int))?) throws(ImageError) -> RGBImage {
        guard let handle = tjInitDecompress() else { throw ImageError(file: file, .corrupt("cannot start the JPEG decoder")) }
        defer { tjDestroy(handle) }
        func message() -> String { String(cString: tjGetErrorStr2(handle)) }
        var w: Int32 = 0, h: Int32 = 0, subsampling: Int32 = 0, colorspace: Int32 = 0
        let header = data.withUnsafeBytes { raw in
            tjDecompressHeader3(handle, raw.bindMemory(to: UInt8.self).baseAddress, UInt(raw.count), &w, &h, &subsampling, &colorspace)
        }
        guard header == 0 else { throw ImageError(file: file, .corrupt(message())) }
        try checkDimensions(Int(w), Int(h), file)

        // The smallest DCT scale that keeps both sides at least as large as asked.
        var (sw, sh) = (Int(w), Int(h))
        if let atLeast = minimumSize?(Int(w), Int(h)) {
            var count: Int32 = 0
            if let factors = tjGetScalingFactors(&count) {
                for f in UnsafeBufferPointer(start: factors, count: Int(count)) where f.num < f.denom {
                    let (num, den) = (Int(f.num), Int(f.denom))
                    let (cw, ch) = ((Int(w) * num + den - 1) / den, (Int(h) * num + den - 1) / den)
                    if cw >= atLeast.width && ch >= atLeast.height && cw * ch < sw * sh { (sw, sh) = (cw, ch) }
                }
            }
        }
        let cmyk = colorspace == Int32(TJCS_CMYK.rawValue) || colorspace == Int32(TJCS_YCCK.rawValue)
        let channels = cmyk ? 4 : 3
        var buffer = [UInt8](repeating: 0, count: sw * sh * channels)
        let status = data.withUnsafeBytes { raw in
            buffer.withUnsafeMutableBufferPointer { out in
                tjDecompress2(handle, raw.bindMemory(to: UInt8.self).baseAddress, UInt(raw.count), out.baseAddress,
                              Int32(sw), 0, Int32(sh), Int32((cmyk ? TJPF_CMYK : TJPF_RGB).rawValue), TJFLAG_ACCURATEDCT)
            }
        }
        guard status == 0 else { throw ImageError(file: file, .corrupt(message())) }
        if !cmyk { return RGBImage(width: sw, height: sh, pixels: buffer) }
        // Adobe CMYK JPEGs store inverted ink values: R = C·K/255 and so on.
        var rgb = [UInt8](repeating: 0, count: sw * sh * 3)
        for i in 0 ..< sw * sh {
            let k = Int(buffer[4 * i + 3])
            for c in 0 ..< 3 { rgb[3 * i + c] = UInt8(Int(buffer[4 * i + c]) * k / 255) }
        }
        return RGBImage(width: sw, height: sh, pixels: rgb)
    }

    // MARK: PNG

    static func decodePNG(_ data: Data, file: String) throws(ImageError) -> RGBImage {
        // libpng reads from the buffer between begin and finish, so both run inside one closure.
        let result: Result<RGBImage, ImageError> = data.withUnsafeBytes { raw in
            var image = png_image()
            image.version = ttl_png_image_version
            func message() -> String {
                withUnsafeBytes(of: image.message) { m in String(decoding: m.prefix { $0 != 0 }, as: UTF8.self) }
            }
            guard png_image_begin_read_from_memory(&image, raw.baseAddress, raw.count) != 0 else {
                let m = message()
                png_image_free(&image)
                return .failure(ImageError(file: file, .corrupt(m)))
            }
            let (w, h) = (Int(image.width), Int(image.height))
            do throws(ImageError) { try checkDimensions(w, h, file) } catch {
                png_image_free(&image)
                return .failure(error)
            }
            // 16-bit files are read as 16-bit (libpng would otherwise treat them as linear light
            // and gamma-encode them) and scaled to 8 bits here, v/257 rounded. libpng premultiplies
            // alpha in 16-bit output, so 16-bit images with transparency keep premultiplied colours.
            let sixteen = image.format & ttl_png_format_flag_linear != 0
            image.format = ttl_png_format_rgba | (sixteen ? ttl_png_format_flag_linear : 0)
            /// Reads RGBA of `T` (UInt8 or UInt16) and keeps RGB, each value through `to8`.
            func finish<T: FixedWidthInteger>(_: T.Type, _ to8: (T) -> UInt8) -> Result<RGBImage, ImageError> {
                var rgba = [T](repeating: 0, count: w * h * 4)
                let finished = rgba.withUnsafeMutableBytes { out in png_image_finish_read(&image, nil, out.baseAddress, 0, nil) }
                guard finished != 0 else {
                    let m = message()
                    png_image_free(&image)
                    return .failure(ImageError(file: file, .corrupt(m)))
                }
                var rgb = [UInt8](repeating: 0, count: w * h * 3)
                for i in 0 ..< w * h { for c in 0 ..< 3 { rgb[3 * i + c] = to8(rgba[4 * i + c]) } }
                return .success(RGBImage(width: w, height: h, pixels: rgb))
            }
            return sixteen ? finish(UInt16.self) { UInt8((UInt32($0) + 128) / 257) } : finish(UInt8.self) { $0 }
        }
        return try result.get()
    }
}
