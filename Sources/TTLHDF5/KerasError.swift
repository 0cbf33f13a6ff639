/// A Keras file ttl cannot read, or a model it cannot write as Keras, naming the file and
/// the place in it (HDF5 path, layer name and class, or the graph node and op).
public enum KerasError: Error, Equatable, CustomStringConvertible {
    /// The file is HDF5 but holds no Keras model or weights.
    case notKeras(file: String, message: String)
    /// The model configuration JSON cannot be read or does not describe a model.
    case invalidConfig(file: String, message: String)
    /// Every layer ttl cannot rebuild, as `name (Class)`, all at once.
    case unsupportedLayers(file: String, layers: [String])
    /// A layer whose configuration ttl cannot follow.
    case layer(file: String, layer: String, className: String, message: String)
    /// A layer stores another number of weights than its configuration needs.
    case weightCount(file: String, path: String, expected: [String], found: Int)
    /// A stored weight (`path` in the file) of another shape than the layer needs (Keras layout).
    case weightShape(file: String, path: String, expected: [Int], found: [Int])
    /// Weights stored for layers the model does not have.
    case unusedWeights(file: String, layers: [String])
    /// A weights-only file, which needs `--arch` to say what network it belongs to.
    case needsArchitecture(file: String, known: [String])
    /// A `.keras` archive that cannot be read.
    case zip(file: String, message: String)
    /// A graph node with no Keras layer to stand for it.
    case cannotExport(node: String, op: String, message: String)

    /// The one line the CLI prints.
    public var description: String {
        switch self {
        case let .notKeras(file, message): "\(file): not a Keras model file (\(message))"
        case let .invalidConfig(file, message): "\(file): \(message)"
        case let .unsupportedLayers(file, layers):
            "\(file): unsupported Keras layer\(layers.count == 1 ? "" : "s"): \(layers.joined(separator: ", "))"
        case let .layer(file, layer, className, message): "\(file): layer '\(layer)' (\(className)): \(message)"
        case let .weightCount(file, path, expected, found):
            "\(file): '\(path)': \(found) weight\(found == 1 ? "" : "s") stored, expected \(expected.count) (\(expected.joined(separator: ", ")))"
        case let .weightShape(file, path, expected, found):
            "\(file): '\(path)' has shape \(found), expected \(expected)"
        case let .unusedWeights(file, layers):
            "\(file): weights stored for layers the model does not have: \(layers.prefix(8).joined(separator: ", "))\(layers.count > 8 ? ", …" : "")"
        case let .needsArchitecture(file, known):
            "\(file): holds weights only; name the architecture with --arch (\(known.joined(separator: ", ")))"
        case let .zip(file, message): "\(file): \(message)"
        case let .cannotExport(node, op, message): "node '\(node)' (\(op)) cannot be written as a Keras layer: \(message)"
        }
    }
}
