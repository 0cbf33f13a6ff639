// Checkpoints of an interrupted fine-tuning run: everything FineTuner.fit needs to continue
// exactly (the weights that train and the batch-norm statistics, the best epoch's, the
// optimizer's moments and step count, the random generator, the history, an unfinished
// epoch's order and sums) and what identifies the run (options, preprocessing, classes, the
// sample files and split, the backbone's weights), so that a checkpoint is never continued
// with other data or settings.
//
// On disk a checkpoint is a folder:
//   checkpoint.json   the manifest (Manifest below), JSON
//   tensors/N.npy     float32 tensors, listed in the manifest by role and parameter path
// written under a temporary name beside its place and renamed into it.
import Foundation
import TTLCore
import TTLNN

/// A paused fine-tuning run: ``write(to:)`` it, ``read(from:)`` it back, and continue it with
/// `FineTuner.fit(…, resumingFrom:)`.
public struct FineTuneCheckpoint {
    /// Epochs finished when the run stopped.
    public var epochsDone: Int { state.epochsDone }
    /// Epochs of the whole run (both phases of a two-phase run).
    public var totalEpochs: Int { identity.options.totalEpochs }
    /// Batches done of the unfinished epoch (end-to-end training stops between batches); 0 when
    /// the run stopped between epochs.
    public var batchesDone: Int { state.epochInProgress?.batchesDone ?? 0 }
    /// The folder it was read from (nil for one made in this process).
    public internal(set) var location: URL? = nil

    var identity: RunIdentity
    var state: RunState
    /// What is saved of the weights: everything that trains in some phase, and the buffers.
    var savedPaths: [String]

    init(identity: RunIdentity, state: RunState, savedPaths: [String]) {
        self.identity = identity
        self.state = state
        self.savedPaths = savedPaths
    }

    static let manifestName = "checkpoint.json"
    static let format = "ttl-finetune-checkpoint"
    static let version = 1

    /// The manifest: the run's identity and state, tensors by reference.
    struct Manifest: Codable {
        struct TensorFile: Codable {
            /// `current`, `best`, or `optimizer.<slot>` (`optimizer.m`, `optimizer.v`, `optimizer.momentum`).
            var role: String
            /// The parameter path.
            var path: String
            /// Under `tensors/`: `N.npy`, N its index in the list.
            var file: String
        }
        var format: String
        var version: Int
        var run: RunIdentity
        var epochsDone: Int
        var step: Int
        /// The random generator's state in hex (64-bit integers do not survive every JSON reader).
        var rng: String
        var history: [EpochReport]
        var bestEpoch: Int
        var bestLoss: Double
        var optimizerSteps: Int
        var epochInProgress: EpochInProgress?
        var tensors: [TensorFile]
    }

    static func encoder() -> JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        e.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return e
    }

    static func decoder() -> JSONDecoder {
        let d = JSONDecoder()
        d.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return d
    }

    /// Writes the checkpoint as the folder `folder`, replacing one already there. The folder is
    /// written under a temporary name beside it and renamed into place, so a failure or a crash
    /// leaves the previous checkpoint or none, never half of one.
    public func write(to folder: URL) throws(FineTuneError) {
        let fm = FileManager.default
        let parent = folder.deletingLastPathComponent()
        let temp = parent.appendingPathComponent(".\(folder.lastPathComponent).partial-\(getpid())")
        let old = parent.appendingPathComponent(".\(folder.lastPathComponent).old-\(getpid())")
        do {
            try? fm.removeItem(at: temp)
            let tensors = temp.appendingPathComponent("tensors")
            try fm.createDirectory(at: tensors, withIntermediateDirectories: true)
            var files: [Manifest.TensorFile] = []
            func save(_ tensor: Tensor, _ role: String, _ path: String) throws {
                let file = "\(files.count).npy"
                try Data(NPY.encode(tensor)).write(to: tensors.appendingPathComponent(file))
                files.append(.init(role: role, path: path, file: file))
            }
            for path in savedPaths {
                guard let current = state.parameters.tensor(path), let best = state.best.parameters.tensor(path) else { continue }
                try save(current, "current", path)
                try save(best, "best", path)
            }
            for (slot, values) in state.optimizer.slots.sorted(by: { $0.key < $1.key }) {
                for (path, v) in values.sorted(by: { $0.key < $1.key }) { try save(Tensor(shape: [v.count], scalars: v), "optimizer." + slot, path) }
            }
            let manifest = Manifest(format: Self.format, version: Self.version, run: identity, epochsDone: state.epochsDone, step: state.step,
                                    rng: String(state.rng.state, radix: 16), history: state.history, bestEpoch: state.best.epoch,
                                    bestLoss: state.best.loss, optimizerSteps: state.optimizer.steps, epochInProgress: state.epochInProgress,
                                    tensors: files)
            try Self.encoder().encode(manifest).write(to: temp.appendingPathComponent(Self.manifestName))
            if fm.fileExists(atPath: folder.path) {
                try? fm.removeItem(at: old)
                try fm.moveItem(at: folder, to: old)
                try fm.moveItem(at: temp, to: folder)
                try? fm.removeItem(at: old)
            } else {
                try fm.moveItem(at: temp, to: folder)
            }
        } catch {
            try? fm.removeItem(at: temp)
            throw .checkpoint(path: folder.path, reason: "cannot write the checkpoint: \(error.localizedDescription)")
        }
    }

    /// Reads a checkpoint folder written by ``write(to:)``. Anything missing, malformed or
    /// inconsistent throws ``FineTuneError/checkpoint(path:reason:)`` naming the file.
    public static func read(from folder: URL) throws(FineTuneError) -> FineTuneCheckpoint {
        let fm = FileManager.default
        let manifestURL = folder.appendingPathComponent(manifestName)
        guard let data = fm.contents(atPath: manifestURL.path) else {
            var isDir: ObjCBool = false
            let exists = fm.fileExists(atPath: folder.path, isDirectory: &isDir)
            throw .checkpoint(path: folder.path, reason: !exists ? "no checkpoint here" : isDir.boolValue ? "no \(manifestName) in this checkpoint folder" : "not a checkpoint folder")
        }
        func bad(_ reason: String) -> FineTuneError { .checkpoint(path: manifestURL.path, reason: reason) }
        let m: Manifest
        do { m = try decoder().decode(Manifest.self, from: data) } catch {
            throw bad("not a ttl checkpoint manifest (\(Self.describe(error)))")
        }
        guard m.format == format, m.version == version else {
            throw bad("format '\(m.format)' version \(m.version); this ttl reads '\(format)' version \(version)")
        }
        guard let rng = UInt64(m.rng, radix: 16) else { throw bad("rng '\(m.rng)' is not a hexadecimal 64-bit state") }
        let total = m.run.options.totalEpochs
        guard m.epochsDone >= 0, m.epochsDone < total, m.history.count == m.epochsDone, m.history.map(\.epoch) == Array(0 ..< m.epochsDone).map({ $0 + 1 }),
              m.bestEpoch >= 0, m.bestEpoch <= m.epochsDone, m.step >= 0, m.optimizerSteps >= 0 else {
            throw bad("inconsistent progress: \(m.epochsDone) of \(total) epochs done, \(m.history.count) in the history, best epoch \(m.bestEpoch)")
        }
        if let e = m.epochInProgress {
            let batches = (m.run.trainCount + m.run.options.batchSize - 1) / max(m.run.options.batchSize, 1)
            guard e.order.sorted() == Array(0 ..< m.run.trainCount), e.batchesDone > 0, e.batchesDone < batches else {
                throw bad("the unfinished epoch's order or batch count does not fit \(m.run.trainCount) training images")
            }
        }
        var current = ParameterTree(), best = ParameterTree()
        var slots: [String: [String: [Float]]] = [:]
        for (i, t) in m.tensors.enumerated() {
            guard t.file == "\(i).npy", ParameterTree.isValidPath(t.path) else { throw bad("tensor \(i): file '\(t.file)', path '\(t.path)'") }
            let url = folder.appendingPathComponent("tensors").appendingPathComponent(t.file)
            let tensor: Tensor
            do { tensor = try NPY.readTensor(url) } catch {
                let text = error.description  // "<file>: <what>"
                throw .checkpoint(path: url.path, reason: text.hasPrefix(url.path + ": ") ? String(text.dropFirst(url.path.count + 2)) : text)
            }
            switch t.role {
            case "current": current[t.path] = .init(tensor)
            case "best": best[t.path] = .init(tensor)
            case let role where role.hasPrefix("optimizer."): slots[String(role.dropFirst(10)), default: [:]][t.path] = tensor.scalars
            default: throw bad("tensor \(i): unknown role '\(t.role)'")
            }
        }
        guard current.paths == best.paths else { throw bad("the current and the best weights name different tensors") }
        var state = RunState(seed: rng, parameters: current)
        state.epochsDone = m.epochsDone
        state.step = m.step
        state.history = m.history
        state.best = RunState.Best(loss: m.bestLoss, epoch: m.bestEpoch, parameters: best)
        state.optimizer = OptimizerState(steps: m.optimizerSteps, slots: slots)
        state.epochInProgress = m.epochInProgress
        var checkpoint = FineTuneCheckpoint(identity: m.run, state: state, savedPaths: current.paths)
        checkpoint.location = folder
        return checkpoint
    }

    static func describe(_ error: Error) -> String {
        switch error {
        case let DecodingError.keyNotFound(key, _): "no '\(key.stringValue)'"
        case let DecodingError.typeMismatch(_, c), let DecodingError.valueNotFound(_, c), let DecodingError.dataCorrupted(c):
            (c.codingPath.isEmpty ? "" : c.codingPath.map(\.stringValue).joined(separator: ".") + ": ") + c.debugDescription
        default: "\(error)"
        }
    }

    /// Throws ``FineTuneError/checkpointMismatch(path:reason:)`` unless this checkpoint was made
    /// by a run of `backbone` on `data` with `preprocessing` and `options` (what
    /// `FineTuner.fit(…, resumingFrom:)` checks first), so a command can refuse before it starts.
    public func verify(backbone: Model, data: ImageFolder, preprocessing: Preprocessing, options: FineTuneOptions) throws(FineTuneError) {
        let identity = RunIdentity(options: options, preprocessing: preprocessing, data: data, backbone: backbone)
        if let why = identity.difference(from: self.identity) { throw .checkpointMismatch(path: location?.path ?? "checkpoint", reason: why) }
    }

    /// The run state to continue with: the saved tensors put onto `parameters` (the freshly
    /// prepared model's), after checking that the checkpoint belongs to the run `identity`.
    func restore(for identity: RunIdentity, onto parameters: ParameterTree, savedPaths expected: [String]) throws(FineTuneError) -> RunState {
        let place = location?.path ?? "checkpoint"
        if let why = identity.difference(from: self.identity) { throw .checkpointMismatch(path: place, reason: why) }
        guard Set(expected) == Set(savedPaths) else {
            throw .checkpointMismatch(path: place, reason: "it saves other weights: \(Set(savedPaths).symmetricDifference(expected).sorted().prefix(3).joined(separator: ", "))")
        }
        var s = state
        var current = parameters, best = parameters
        for path in savedPaths {
            guard let fresh = parameters[path], let c = state.parameters.tensor(path), let b = state.best.parameters.tensor(path),
                  c.shape == fresh.tensor.shape, b.shape == fresh.tensor.shape else {
                throw .checkpointMismatch(path: place, reason: "'\(path)' has another shape")
            }
            current[path] = .init(c, kind: fresh.kind)
            best[path] = .init(b, kind: fresh.kind)
        }
        for (slot, values) in state.optimizer.slots {
            for (path, v) in values where parameters.tensor(path)?.count != v.count {
                throw .checkpointMismatch(path: place, reason: "optimizer state '\(slot)' of '\(path)' does not fit the weight")
            }
        }
        s.parameters = current
        s.best.parameters = best
        return s
    }
}

/// What makes two runs the same run: a checkpoint continues only the run it was made by.
struct RunIdentity: Codable, Equatable {
    var options: FineTuneOptions
    var preprocessing: Preprocessing
    var classes: [String]
    var trainCount: Int
    var validationCount: Int
    /// FNV-1a of every sample's path below the dataset folder and its label, training then
    /// validation: other files or another split differ.
    var samples: String
    /// `FeatureCache.key` of the backbone as given: its structure and weights.
    var backbone: String

    init(options: FineTuneOptions, preprocessing: Preprocessing, data: ImageFolder, backbone: Model) {
        self.options = options
        self.preprocessing = preprocessing
        classes = data.classes
        trainCount = data.train.count
        validationCount = data.validation.count
        var h = FNV1a()
        let root = data.root.path
        for (part, list) in [("train", data.train), ("validation", data.validation)] {
            h.combine(part + "\n")
            for s in list {
                let path = s.url.path.hasPrefix(root) ? String(s.url.path.dropFirst(root.count)) : s.url.path
                h.combine("\(path)\t\(s.label)\n")
            }
        }
        samples = h.hex
        self.backbone = FeatureCache.key(backbone: backbone, preprocessing: preprocessing)
    }

    /// How `self` (this run) differs from `saved` (the checkpoint's), said for a person; nil if
    /// they are the same run.
    func difference(from saved: RunIdentity) -> String? {
        if classes != saved.classes {
            return "classes \(saved.classes.joined(separator: ", ")) in the checkpoint, \(classes.joined(separator: ", ")) now"
        }
        if trainCount != saved.trainCount || validationCount != saved.validationCount {
            return "\(saved.trainCount) training and \(saved.validationCount) validation images in the checkpoint, \(trainCount) and \(validationCount) now"
        }
        if samples != saved.samples { return "other image files or another validation split" }
        if options != saved.options {
            let encoder = JSONEncoder()
            encoder.outputFormatting = .sortedKeys
            func fields(_ o: FineTuneOptions) -> [String: String] {
                guard let data = try? encoder.encode(o), let dict = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return [:] }
                return dict.mapValues { "\($0)" }
            }
            let now = fields(options), then = fields(saved.options)
            let keys = Set(now.keys).union(then.keys).sorted().filter { now[$0] != then[$0] }
            return "options: " + keys.map { "\($0) \(then[$0] ?? "unset") in the checkpoint, \(now[$0] ?? "unset") now" }.joined(separator: "; ")
        }
        if preprocessing != saved.preprocessing { return "preprocessing \(saved.preprocessing.json) in the checkpoint, \(preprocessing.json) now" }
        if backbone != saved.backbone { return "another backbone, or other backbone weights" }
        return nil
    }
}
