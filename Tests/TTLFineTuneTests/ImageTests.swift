import Foundation
import TTLCore
@testable import TTLFineTune
import TTLNN
import XCTest
import _TestSupport

/// Decoding against PIL and preprocessing against torchvision (`scripts/make_image_fixtures.py`).
final class ImageTests: XCTestCase {
    static let images = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/images")

    func pixels(_ name: String) throws -> [Int] {
        try NPY.read(Self.images.appendingPathComponent(name + ".rgb.npy")).integers()!
    }

    func testPNGDecodesExactlyAsPIL() throws {
        for name in ["rgb", "gray", "rgba", "palette"] {
            let image = try ImageDecoder.decode(contentsOf: Self.images.appendingPathComponent(name + ".png"))
            XCTAssertEqual(image.pixels.map(Int.init), try pixels(name + ".png"), name)
        }
        // 16-bit: scaled to 8 bits (PIL clips instead; the fixture holds round(v / 257)).
        let g16 = try ImageDecoder.decode(contentsOf: Self.images.appendingPathComponent("gray16.png"))
        let scaled = try NPY.read(Self.images.appendingPathComponent("gray16.png.scaled.npy")).integers()!
        XCTAssertLessThanOrEqual(zip(g16.pixels.map(Int.init), scaled).map { abs($0 - $1) }.max()!, 1)
    }

    /// JPEG decoders may differ by a level or two in the IDCT and upsampling.
    func testJPEGDecodesAsPIL() throws {
        for name in ["rgb", "gray", "cmyk"] {
            let image = try ImageDecoder.decode(contentsOf: Self.images.appendingPathComponent(name + ".jpg"))
            let expected = try pixels(name + ".jpg")
            XCTAssertEqual(image.pixels.count, expected.count, name)
            let err = zip(image.pixels.map(Int.init), expected).map { abs($0 - $1) }.max() ?? 255
            XCTAssertLessThanOrEqual(err, 2, "\(name): max difference \(err)")
        }
    }

    func testLargeJPEGUsesDCTScaling() throws {
        let url = Self.images.appendingPathComponent("large.jpg")
        XCTAssertEqual(try ImageDecoder.decode(contentsOf: url).width, 640)
        let small = try ImageDecoder.decode(contentsOf: url, atLeast: (150, 110))
        XCTAssertEqual([small.width, small.height], [160, 120], "1/4 scale keeps both sides above the minimum")
        let p = Preprocessing(size: 112)
        let need = p.minimumDecodeSize(width: 640, height: 480)
        XCTAssertEqual(need.height, 256, "twice the 128 rows the image is resized to")
        XCTAssertEqual(try ImageDecoder.decode(contentsOf: url, atLeast: need).height, 300, "5/8 scale: the smallest that keeps 256 rows")
    }

    /// torchvision's Resize + CenterCrop (or Resize((S, S))) + ToTensor + Normalize. ttl resizes
    /// with Pillow's fixed-point algorithm, horizontal pass first; Pillow 13 runs the vertical
    /// pass first for some shapes, which moves a few pixels by one level of 255 (1/255/0.224 ≈
    /// 0.0176 after normalisation). JPEG decoders may differ by a level or two more (0.035).
    func testPreprocessingMatchesTorchvision() throws {
        for name in ["rgb.png", "gray.png", "rgba.png", "palette.png", "rgb.jpg", "large.jpg"] {
            let image = try ImageDecoder.decode(contentsOf: Self.images.appendingPathComponent(name))
            let atol = name.hasSuffix(".png") ? 0.0176 : 0.035
            for (policy, suffix) in [(Preprocessing.Resize.crop, "crop16"), (.squash, "squash16")] {
                let x = Preprocessing(size: 16, resize: policy).apply(image)
                let expected = try NPY.readTensor(Self.images.appendingPathComponent("\(name).\(suffix).npy"))
                assertClose(x, expected, atol: atol, rtol: 0, "\(name) \(policy)")
            }
        }
    }

    func testBadImages() throws {
        func reason(_ bytes: [UInt8]) -> ImageError.Reason? {
            do { _ = try ImageDecoder.decode(Data(bytes), file: "x"); return nil } catch { return error.reason }
        }
        XCTAssertEqual(reason(Array("GIF89a not supported".utf8)), .unknownFormat)
        XCTAssertEqual(reason([]), .unknownFormat)
        for name in ["rgb.png", "rgb.jpg"] {
            let good = try Data(contentsOf: Self.images.appendingPathComponent(name))
            guard case .corrupt? = reason(Array(good.prefix(good.count / 2))) else { return XCTFail("\(name) truncated") }
        }
        // A PNG header claiming 100000 × 100000 pixels is refused before decoding.
        let png = try FineTuneTests.pngClaiming(width: 100_000, height: 100_000, from: Self.images.appendingPathComponent("rgb.png"))
        XCTAssertEqual(reason(png), .absurdDimensions(width: 100_000, height: 100_000))
        XCTAssertEqual(ImageError(file: "a.png", .absurdDimensions(width: 100_000, height: 100_000)).description,
                       "a.png: the header claims 100000×100000 pixels, more than ttl accepts (30000 per side, 200 M pixels)")
    }

    func testPreprocessingJSON() {
        let p = Preprocessing(size: 224, resize: .squash, mean: [0.498, 0.498, 0.498], std: [0.502, 0.502, 0.502])
        XCTAssertEqual(Preprocessing(json: p.json), p)
        XCTAssertNil(Preprocessing(json: "{\"size\": 0}"))
        XCTAssertTrue(Preprocessing.imagenet.json.hasPrefix("{\"mean\":[0.485"))
        XCTAssertFalse(Preprocessing.imagenet.json.contains("channels"), "RGB is the default and not written")
        let bgr = Preprocessing(size: 224, resize: .squash, mean: [0.4, 0.45, 0.5], std: [0.1, 0.2, 0.3], channels: .bgr)
        XCTAssertEqual(Preprocessing(json: bgr.json), bgr)
        XCTAssertTrue(bgr.json.contains("\"channels\":\"bgr\""), bgr.json)
    }

    /// BGR input is the RGB input with its channel planes reversed, each normalised with its own mean and std.
    func testBGRChannelOrder() {
        var rng = SplitMix64(seed: 4)
        let image = RGBImage(width: 9, height: 7, pixels: (0 ..< 9 * 7 * 3).map { _ in UInt8(truncatingIfNeeded: rng.next()) })
        let mean: [Float] = [0.1, 0.5, 0.9], std: [Float] = [0.2, 0.3, 0.4]
        let rgb = Preprocessing(size: 5, resize: .squash, mean: mean.reversed(), std: std.reversed()).apply(image).scalars
        let bgr = Preprocessing(size: 5, resize: .squash, mean: mean, std: std, channels: .bgr).apply(image).scalars
        let plane = 25
        for c in 0 ..< 3 {
            XCTAssertEqual(Array(bgr[c * plane ..< (c + 1) * plane]), Array(rgb[(2 - c) * plane ..< (3 - c) * plane]), "channel \(c)")
        }
        XCTAssertNotEqual(bgr, rgb)
    }
}
