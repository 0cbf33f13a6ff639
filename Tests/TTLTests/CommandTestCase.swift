import Foundation
import XCTest

/// Runs the built `ttl` binary as a user would, with its own empty `TTL_HOME` per test.
class CommandTestCase: XCTestCase {
    var home: URL!

    override func setUpWithError() throws {
        home = FileManager.default.temporaryDirectory
            .appendingPathComponent("ttl-cli-\(ProcessInfo.processInfo.processIdentifier)-\(String(describing: Self.self))-\(name.hashValue)")
        try? FileManager.default.removeItem(at: home)
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: home) }

    /// The built `ttl` binary, beside the test bundle.
    var binary: URL {
        var dir = Bundle(for: Self.self).bundleURL
        while dir.pathExtension == "xctest" || dir.lastPathComponent == "Contents" || dir.lastPathComponent == "MacOS" { dir.deleteLastPathComponent() }
        return dir.appendingPathComponent("ttl")
    }

    @discardableResult
    func ttl(_ args: String...) throws -> (status: Int32, out: String, err: String) { try ttl(args) }

    @discardableResult
    func ttl(_ args: [String]) throws -> (status: Int32, out: String, err: String) {
        let p = Process()
        p.executableURL = binary
        p.arguments = args
        var env = ProcessInfo.processInfo.environment
        env["TTL_HOME"] = home.path
        p.environment = env
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }
}
