import Foundation
import TTLCore

/// One case written by `scripts/make_fixtures.py`: a folder with `case.json` and `.npy` arrays.
public struct KernelFixture {
    public let name: String
    public let op: String
    public let params: [String: Any]
    let folder: URL

    /// Every case under `root`, sorted by name.
    public static func all(in root: URL) throws -> [KernelFixture] {
        let names = try FileManager.default.contentsOfDirectory(atPath: root.path).sorted()
        return try names.map { try KernelFixture(folder: root.appendingPathComponent($0)) }
    }

    public init(folder: URL) throws {
        self.folder = folder
        name = folder.lastPathComponent
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: folder.appendingPathComponent("case.json")))
        guard let dict = json as? [String: Any], let op = dict["op"] as? String else {
            throw CocoaError(.fileReadCorruptFile, userInfo: [NSFilePathErrorKey: folder.path])
        }
        self.op = op
        params = dict["params"] as? [String: Any] ?? [:]
    }

    public func has(_ array: String) -> Bool {
        FileManager.default.fileExists(atPath: folder.appendingPathComponent(array + ".npy").path)
    }
    public func tensor(_ array: String) throws -> Tensor { try NPY.readTensor(folder.appendingPathComponent(array + ".npy")) }
    public func integers(_ array: String) throws -> [Int] {
        try NPY.read(folder.appendingPathComponent(array + ".npy")).integers() ?? []
    }

    public func int(_ key: String) -> Int { (params[key] as? NSNumber)?.intValue ?? 0 }
    public func double(_ key: String) -> Double { (params[key] as? NSNumber)?.doubleValue ?? 0 }
    public func bool(_ key: String) -> Bool { (params[key] as? NSNumber)?.boolValue ?? false }
    public func ints(_ key: String) -> [Int] { (params[key] as? [NSNumber])?.map(\.intValue) ?? [] }
    public func string(_ key: String) -> String { params[key] as? String ?? "" }
}
