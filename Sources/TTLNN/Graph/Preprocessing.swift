// How a model wants its images: part of a model (stored with it, carried in exports inside
// ``ModelInfo`` as the `preprocessing` metadata key), so that any runtime can feed it. The
// pixels themselves are prepared in TTLFineTune (`Preprocessing.apply`).
import Foundation

/// How a model wants its images.
public struct Preprocessing: Codable, Equatable, Sendable {
    /// How an image becomes `size × size`.
    public enum Resize: String, Codable, Sendable {
        /// Shorter side to `size · 256/224`, then the centre `size × size` (torchvision's ImageNet eval).
        case crop
        /// The whole image to `size × size`, aspect ratio not kept (Keras pipelines).
        case squash
    }
    /// The network's input side in pixels.
    public var size: Int
    /// How the image becomes `size × size`.
    public var resize: Resize
    /// Per-channel mean and standard deviation on the 0–1 scale: input = (pixel/255 − mean)/std.
    public var mean: [Float]
    /// Per-channel standard deviation on the 0–1 scale, R, G, B.
    public var std: [Float]
    /// The order of the input's channels; nil is RGB. Keras's ResNet50/101/152 take BGR
    /// ("caffe" preprocessing); `mean` and `std` are then given in B, G, R order.
    public var channels: ChannelOrder?

    /// The order of an image's channels in the network's input.
    public enum ChannelOrder: String, Codable, Sendable {
        case rgb, bgr
    }

    /// ImageNet's normalisation at 224 with a centre crop unless told otherwise.
    public init(size: Int = 224, resize: Resize = .crop, mean: [Float] = Preprocessing.imagenetMean, std: [Float] = Preprocessing.imagenetStd,
                channels: ChannelOrder? = nil) {
        self.size = size; self.resize = resize; self.mean = mean; self.std = std
        self.channels = channels == .rgb ? nil : channels
    }

    /// ImageNet's per-channel mean, R, G, B.
    public static let imagenetMean: [Float] = [0.485, 0.456, 0.406]
    /// ImageNet's per-channel standard deviation, R, G, B.
    public static let imagenetStd: [Float] = [0.229, 0.224, 0.225]
    /// ImageNet's, at 224 with torchvision's crop.
    public static let imagenet = Preprocessing()

    /// The metadata value: `{"mean":[…],"resize":"crop","size":224,"std":[…]}` (and `"channels":"bgr"` when BGR).
    public var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: (try? encoder.encode(self)) ?? Data(), as: UTF8.self)
    }

    /// Parses a ``json`` value; nil unless it has a positive size, three means and three positive deviations.
    public init?(json: String) {
        guard let p = try? JSONDecoder().decode(Preprocessing.self, from: Data(json.utf8)),
              p.size > 0, p.mean.count == 3, p.std.count == 3, p.std.allSatisfy({ $0 > 0 }) else { return nil }
        self = p
    }
}
