// The registry of Keras layers: each file in this folder handles one Keras layer class (or a
// tight family, such as MaxPooling2D/AveragePooling2D), its import (configuration and weights →
// ttl nodes and parameters) and the ttl operations it writes back as that class on export.
// Adding a layer is one new file plus one line in `KerasLayers.all`; neither the graph builder
// nor the exporter has a switch over classes or operations, and the supported-layer list is
// the registry's. Layer semantics: https://keras.io/api/layers/
import TTLCore
import TTLNN

/// A value of the graph being built: its ttl name and NCHW shape (batch 1).
typealias KerasValue = (name: String, shape: Shape)

/// How many tensors a layer class reads.
enum KerasArity {
    /// `InputLayer`: none.
    case source
    /// Exactly one (most layers).
    case one
    /// One or more (Add, Concatenate, …): the mapping checks the count.
    case several
}

/// What an export mapping wrote for a node.
enum KerasWritten {
    /// The Keras layer giving the node's first output, in that layout.
    case layer(String, KerasLayerWriter.Layout)
    /// The mapping wrote several nodes as one layer and recorded their outputs itself.
    case recorded
}

/// One Keras layer class (or tight family): how its layers import, and how ttl operations export as it.
protocol KerasLayerMapping {
    /// The Keras class names this mapping imports (none for an export-only form).
    static var kerasClasses: [String] { get }
    /// How many inputs the layer reads (`.one` by default).
    static var arity: KerasArity { get }
    /// A form of an otherwise supported class that ttl cannot rebuild (an unknown activation or
    /// `TFOpLambda` function), as `name (Class, …)`; checked for every layer before any is built.
    static func unsupportedForm(_ l: KerasLayer) -> String?
    /// Builds the layer: adds its ttl nodes and parameters to `b` and gives its output.
    /// - Parameters:
    ///   - ins: the layer's inputs in order (one for `.one`, at least one for `.several`)
    static func importLayer(_ l: KerasLayer, _ ins: [KerasValue], _ b: inout KerasGraphBuilder) throws -> KerasValue
    /// The ttl operations this mapping may write (none by default). Several mappings may list
    /// one operation: they are asked in registry order and the first that claims the node writes it.
    static var exportedOperations: [any GraphOperation.Type] { get }
    /// Writes node `i` (and any nodes it absorbs) as Keras layers through `w`; nil when the node
    /// is not in this mapping's form; throws ``KerasError/cannotExport(node:op:message:)`` when it
    /// is but Keras cannot express it.
    static func exportNode(_ i: Int, _ n: Node, _ w: inout KerasLayerWriter) throws -> KerasWritten?
}

extension KerasLayerMapping {
    static var kerasClasses: [String] { [] }
    static var arity: KerasArity { .one }
    static func unsupportedForm(_ l: KerasLayer) -> String? { nil }
    static func importLayer(_ l: KerasLayer, _ ins: [KerasValue], _ b: inout KerasGraphBuilder) throws -> KerasValue {
        throw KerasError.unsupportedLayers(file: b.file, layers: ["\(l.name) (\(l.className))"])
    }
    static var exportedOperations: [any GraphOperation.Type] { [] }
    static func exportNode(_ i: Int, _ n: Node, _ w: inout KerasLayerWriter) throws -> KerasWritten? { nil }
}

/// Every layer mapping, and lookups by Keras class and by ttl operation.
enum KerasLayers {
    /// Export asks mappings of one operation in this order: the multi-node forms (GELU,
    /// channels-last LayerNormalization, hard swish, Normalization's `(x − m) / d`) come before
    /// the single-node ones of the same operation (Add/Multiply, Rescaling, Permute, Activation).
    nonisolated(unsafe) static let all: [any KerasLayerMapping.Type] = [
        // Multi-node forms first.
        GELUActivation.self, LayerNormalizationLayer.self, HardSwishActivation.self, NormalizationLayer.self,
        // Layers.
        InputLayerMapping.self, ConvLayer.self, SeparableConvLayer.self, BatchNormalizationLayer.self,
        ReLULayer.self, ActivationLayer.self, SoftmaxLayer.self, ZeroPaddingLayer.self, CroppingLayer.self,
        PoolingLayer.self, GlobalPoolingLayer.self, MergeLayer.self, ConcatenateLayer.self, TFOpLambdaLayer.self,
        CustomScaleLayerMapping.self, LayerScaleLayer.self, DenseLayer.self, ReshapeLayer.self, FlattenLayer.self,
        DropoutLayer.self, RescalingLayer.self, PermuteLayer.self, ELULayer.self, VariadicMergeLayer.self, PReLULayer.self,
        // ttl operations Keras has no layer for, each with its reason.
        NotExpressibleInKeras.self,
    ]

    /// Keras class → its mapping.
    nonisolated(unsafe) static let importers: [String: any KerasLayerMapping.Type] = {
        var map: [String: any KerasLayerMapping.Type] = [:]
        for m in all {
            for c in m.kerasClasses {
                precondition(map[c] == nil, "Keras class \(c) is registered twice")
                map[c] = m
            }
        }
        return map
    }()

    /// The layer classes ttl rebuilds from a configuration.
    static var supportedClasses: Set<String> { Set(importers.keys) }

    /// ttl operation type → the mappings that may export it, in registry order.
    nonisolated(unsafe) static let exporters: [ObjectIdentifier: [any KerasLayerMapping.Type]] = {
        var map: [ObjectIdentifier: [any KerasLayerMapping.Type]] = [:]
        for m in all { for op in m.exportedOperations { map[ObjectIdentifier(op), default: []].append(m) } }
        return map
    }()

    /// The mappings that may write `operation`, in the order to ask them.
    static func exporters(for operation: any GraphOperation) -> [any KerasLayerMapping.Type] {
        exporters[ObjectIdentifier(type(of: operation))] ?? []
    }
}
