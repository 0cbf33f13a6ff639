import Foundation

/// The embedded default backbone (`weights/efficientnet-lite0.onnx`), found beside the
/// checkout the binary was built in, or at `$TTL_DEFAULT_MODEL`.
public enum DefaultModel {
    /// The model file's name under `weights/`.
    public static let fileName = "efficientnet-lite0.onnx"

    /// The model file: `$TTL_DEFAULT_MODEL`, else the first `weights/` found near the binary or
    /// in the current folder; nil if none has it.
    public static func locate() -> URL? {
        if let env = ProcessInfo.processInfo.environment["TTL_DEFAULT_MODEL"], !env.isEmpty {
            return URL(fileURLWithPath: env)
        }
        // .build/<config>/ttl → <checkout>/weights; also <prefix>/bin/ttl → <prefix>/share/ttl/weights.
        let exe = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        let candidates = [
            exe.deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("weights"),
            exe.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("weights"),
            exe.deletingLastPathComponent().appendingPathComponent("share/ttl/weights"),
            URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent("weights"),
        ]
        return candidates.map { $0.appendingPathComponent(fileName) }.first { FileManager.default.fileExists(atPath: $0.path) }
    }
}
