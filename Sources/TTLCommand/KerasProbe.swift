// Keras files are read in a child process first, so that a libhdf5 crash cannot take `ttl` down.
import ArgumentParser
import Foundation
import TTL
import TTLCore
import TTLNN
import TTLFineTune
import TTLHDF5
import TTLONNX

extension TTLCommand {
    /// Reads a Keras file and exits 0 whether or not it is valid: run in a child process by
    /// ``checkKerasFile``, where a crash inside libhdf5 cannot take the user's command down.
    struct ProbeKeras: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "_probe-keras", shouldDisplay: false)
        @Argument var file: String
        @Option var arch: String?
        func run() {
            _ = try? KerasImporter.load(contentsOf: URL(fileURLWithPath: file), architecture: arch.map { $0.hasPrefix("keras-") ? String($0.dropFirst(6)) : $0 })
        }
    }
}

/// Reads a Keras file in a child process first (see `ModelFile.kerasFileCheck`): a file that
/// makes libhdf5 crash is reported as damaged instead of crashing `ttl`.
func checkKerasFile(_ url: URL, arch: String?) throws {
    let p = Process()
    p.executableURL = Bundle.main.executableURL ?? URL(fileURLWithPath: CommandLine.arguments[0])
    p.arguments = ["_probe-keras", url.path] + (arch.map { ["--arch", $0] } ?? [])
    var env = ProcessInfo.processInfo.environment
    env["SWIFT_BACKTRACE"] = "enable=no"
    p.environment = env
    p.standardOutput = FileHandle.nullDevice
    p.standardError = FileHandle.nullDevice
    do { try p.run() } catch { return }  // no child: read the file here as before
    p.waitUntilExit()
    if p.terminationReason == .uncaughtSignal {
        throw TTLError.unsupportedFormat(file: url.path, reason: "damaged HDF5 file: libhdf5 crashed reading it")
    }
}
