// Small helpers of several commands.
import ArgumentParser
import Foundation
import TTL
import TTLCore
import TTLNN
import TTLFineTune
import TTLHDF5
import TTLONNX

/// The backbone `--model` names (a stored name or a model file), or the embedded default; and
/// its short name.
func loadBackbone(_ model: String?, store: ModelStore) throws -> (Model, name: String) {
    if let model { return (try store.load(model), URL(fileURLWithPath: model).deletingPathExtension().lastPathComponent) }
    guard let url = DefaultModel.locate() else {
        throw TTLError.usage("no --model given and the embedded default backbone (weights/\(DefaultModel.fileName)) is not in this build")
    }
    return (try ModelFile.load(url), "efficientnet-lite0")
}

/// `arg` as a POSIX shell word: unchanged when it is plain, single-quoted otherwise.
func shellQuoted(_ arg: String) -> String {
    let plain = !arg.isEmpty && arg.unicodeScalars.allSatisfy { CharacterSet.alphanumerics.contains($0) || "-_./=:,+%@".unicodeScalars.contains($0) }
    return plain ? arg : "'" + arg.replacingOccurrences(of: "'", with: "'\\''") + "'"
}
