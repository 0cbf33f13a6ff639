// A small, safe door to libhdf5 (https://docs.hdfgroup.org/hdf5/v1_10/): files, groups,
// float datasets and string attributes — what Keras files use, nothing more.
//
// HDF5 is process-global and Debian's build is not thread-safe, so every call goes through
// `HDF5.serialized`. Its own error printing is switched off; a failed call becomes an
// `HDF5Error` naming the file, the object path and the library's innermost message.
import CHDF5
import Foundation
import TTLCore

/// Something wrong with an HDF5 file, naming the file and the object path inside it.
public enum HDF5Error: Error, Equatable, CustomStringConvertible {
    /// The file does not start like an HDF5 file.
    case notHDF5(file: String)
    /// No group, dataset or attribute at `path` (`group@attribute` for attributes).
    case missing(file: String, path: String)
    /// The object exists but is not what a Keras file holds there (type, rank, size).
    case invalid(file: String, path: String, message: String)
    /// libhdf5 failed; `message` is its innermost error.
    case library(file: String, path: String, operation: String, message: String)

    /// The one line the CLI prints.
    public var description: String {
        switch self {
        case let .notHDF5(file): "\(file): not an HDF5 file"
        case let .missing(file, path): "\(file): no object '\(path)' in the file"
        case let .invalid(file, path, message): "\(file): '\(path)': \(message)"
        case let .library(file, path, operation, message):
            "\(file): '\(path)': HDF5 could not \(operation)" + (message.isEmpty ? "" : " (\(message))")
        }
    }
}

enum HDF5 {
    private static let lock: NSRecursiveLock = {
        ttl_h5_silence()
        return NSRecursiveLock()
    }()

    /// Runs `body` holding the process-wide HDF5 lock.
    static func serialized<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        ttl_h5_silence()
        return try body()
    }

    /// The innermost message on HDF5's error stack, which it then clears.
    static func lastError() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        buffer.withUnsafeMutableBufferPointer { p in
            ttl_h5_last_error(p.baseAddress)
        }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Most elements one dataset may claim before anything is allocated (4 Gi floats is 16 GiB).
    static let maximumElements = 1 << 32
}

/// An open HDF5 file, closed when released. Use only inside `HDF5.serialized`.
final class HDF5File {
    let id: hid_t
    /// How errors name the file (the user's path).
    let name: String
    let root: HDF5Group

    private init(id: hid_t, name: String) throws(HDF5Error) {
        self.id = id
        self.name = name
        let g = ttl_h5_gopen(id, "/")
        guard g >= 0 else { H5Fclose(id); throw .library(file: name, path: "/", operation: "open the root group", message: HDF5.lastError()) }
        root = HDF5Group(id: g, path: "", fileName: name)
    }

    deinit { H5Fclose(id) }

    /// Opens `url` read-only; a file that is not HDF5 is reported as such, a damaged one with HDF5's reason.
    static func open(_ url: URL, name: String? = nil) throws(HDF5Error) -> HDF5File {
        let display = name ?? url.path
        guard FileManager.default.isReadableFile(atPath: url.path) else { throw .missing(file: display, path: "/") }
        guard H5Fis_hdf5(url.path) > 0 else {
            _ = HDF5.lastError()
            throw .notHDF5(file: display)
        }
        let id = H5Fopen(url.path, ttl_h5f_acc_rdonly(), ttl_h5p_default())
        guard id >= 0 else { throw .library(file: display, path: "/", operation: "open the file", message: HDF5.lastError()) }
        return try HDF5File(id: id, name: display)
    }

    /// Creates (truncating) `url` in the HDF5 1.8 format.
    static func create(_ url: URL, name: String? = nil) throws(HDF5Error) -> HDF5File {
        let display = name ?? url.path
        let fapl = ttl_h5_fapl_v18()
        defer { if fapl >= 0 { H5Pclose(fapl) } }
        let id = H5Fcreate(url.path, ttl_h5f_acc_trunc(), ttl_h5p_default(), fapl)
        guard id >= 0 else { throw .library(file: display, path: "/", operation: "create the file", message: HDF5.lastError()) }
        return try HDF5File(id: id, name: display)
    }

    /// Writes everything to disk (called before the file is renamed into place).
    func flush() throws(HDF5Error) {
        guard H5Fflush(id, H5F_SCOPE_GLOBAL) >= 0 else {
            throw .library(file: name, path: "/", operation: "flush the file", message: HDF5.lastError())
        }
    }
}

/// A group (or, for attributes, any object) of an open file. Closed when released.
final class HDF5Group {
    let id: hid_t
    /// The group's path from the root, for error messages (`model_weights/conv2d`).
    let path: String
    let fileName: String

    init(id: hid_t, path: String, fileName: String) {
        self.id = id
        self.path = path
        self.fileName = fileName
    }

    deinit { H5Oclose(id) }

    func childPath(_ name: String) -> String { path.isEmpty ? name : path + "/" + name }

    private func fail(_ name: String, _ operation: String) -> HDF5Error {
        .library(file: fileName, path: childPath(name), operation: operation, message: HDF5.lastError())
    }

    enum Kind { case group, dataset }

    /// What `name` is, or nil when nothing (or something else) is there.
    func kind(of name: String) -> Kind? {
        let kind = ttl_h5_object_kind(id, name)
        if kind == 0 { _ = HDF5.lastError() }  // a failed lookup leaves a message on HDF5's stack
        return kind == 1 ? .group : kind == 2 ? .dataset : nil
    }

    /// The names of the links in this group, in HDF5's name order (not creation order:
    /// `conv2d_10` comes before `conv2d_2`), which is why Keras files list their own order.
    func children() throws(HDF5Error) -> [String] {
        var info = H5G_info_t()
        guard H5Gget_info(id, &info) >= 0 else { throw fail("", "list the group") }
        var names: [String] = []
        for i in 0 ..< info.nlinks {
            let size = H5Lget_name_by_idx(id, ".", H5_INDEX_NAME, H5_ITER_INC, i, nil, 0, ttl_h5p_default())
            guard size >= 0, size < 65536 else { throw fail("", "read the name of link \(i)") }
            var buffer = [CChar](repeating: 0, count: Int(size) + 1)
            guard H5Lget_name_by_idx(id, ".", H5_INDEX_NAME, H5_ITER_INC, i, &buffer, buffer.count, ttl_h5p_default()) >= 0 else {
                throw fail("", "read the name of link \(i)")
            }
            names.append(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return names
    }

    func group(_ name: String) throws(HDF5Error) -> HDF5Group {
        guard kind(of: name) == .group else { throw .missing(file: fileName, path: childPath(name)) }
        let g = ttl_h5_gopen(id, name)
        guard g >= 0 else { throw fail(name, "open the group") }
        return HDF5Group(id: g, path: childPath(name), fileName: fileName)
    }

    func createGroup(_ name: String) throws(HDF5Error) -> HDF5Group {
        let g = ttl_h5_gcreate(id, name)
        guard g >= 0 else { throw fail(name, "create the group") }
        return HDF5Group(id: g, path: childPath(name), fileName: fileName)
    }

    // MARK: Datasets

    /// Reads a numeric dataset as Float32 (HDF5 converts float64, float16 and integers).
    /// Its shape comes from the file, so it is checked before anything is allocated.
    func readTensor(_ name: String) throws(HDF5Error) -> Tensor {
        guard kind(of: name) == .dataset else { throw .missing(file: fileName, path: childPath(name)) }
        let d = ttl_h5_dopen(id, name)
        guard d >= 0 else { throw fail(name, "open the dataset") }
        defer { H5Dclose(d) }
        let type = H5Dget_type(d)
        guard type >= 0 else { throw fail(name, "read the dataset's type") }
        defer { H5Tclose(type) }
        let typeClass = H5Tget_class(type)
        guard typeClass == H5T_FLOAT || typeClass == H5T_INTEGER else {
            throw .invalid(file: fileName, path: childPath(name), message: "holds \(Self.className(typeClass)) values, not numbers")
        }
        let shape = try dataspaceShape(H5Dget_space(d), name)
        let storage = H5Dget_storage_size(d)
        let elementSize = H5Tget_size(type)
        // A contiguous, unfiltered dataset must own storage for every element it claims.
        let plist = H5Dget_create_plist(d)
        let filtered = plist >= 0 && H5Pget_nfilters(plist) > 0
        if plist >= 0 { H5Pclose(plist) }
        // A compressed one cannot expand more than deflate can (about 1000:1).
        let claimed = UInt64(shape.count) * UInt64(elementSize)
        if shape.count > 0, filtered ? claimed > UInt64(storage) * 1100 + (1 << 20) : UInt64(storage) < claimed {
            throw .invalid(file: fileName, path: childPath(name),
                           message: "claims \(shape.count) elements but the file stores \(storage) bytes for it")
        }
        var failed = false
        let t = Tensor(uninitialized: shape) { buffer in
            if buffer.isEmpty { return }
            failed = H5Dread(d, ttl_h5t_native_float(), ttl_h5s_all(), ttl_h5s_all(), ttl_h5p_default(), buffer.baseAddress) < 0
        }
        if failed { throw fail(name, "read the dataset") }
        return t
    }

    /// Writes `tensor` as a little-endian float32 dataset of its shape.
    func write(_ tensor: Tensor, as name: String) throws(HDF5Error) {
        var dims = tensor.shape.dimensions.map { hsize_t($0) }
        let space = dims.isEmpty ? H5Screate(H5S_SCALAR) : H5Screate_simple(Int32(dims.count), &dims, nil)
        guard space >= 0 else { throw fail(name, "make a dataspace") }
        defer { H5Sclose(space) }
        let d = ttl_h5_dcreate(id, name, ttl_h5t_ieee_f32le(), space)
        guard d >= 0 else { throw fail(name, "create the dataset") }
        defer { H5Dclose(d) }
        let status = tensor.withUnsafeBufferPointer { p in
            p.isEmpty ? 0 : H5Dwrite(d, ttl_h5t_native_float(), ttl_h5s_all(), ttl_h5s_all(), ttl_h5p_default(), p.baseAddress)
        }
        guard status >= 0 else { throw fail(name, "write the dataset") }
    }

    private func dataspaceShape(_ space: hid_t, _ name: String) throws(HDF5Error) -> Shape {
        guard space >= 0 else { throw fail(name, "read the dataspace") }
        defer { H5Sclose(space) }
        let rank = H5Sget_simple_extent_ndims(space)
        guard rank >= 0, rank <= 8 else {
            throw .invalid(file: fileName, path: childPath(name), message: "has rank \(rank); at most 8 is supported")
        }
        if H5Sget_simple_extent_type(space) == H5S_NULL { return Shape([0]) }
        var dims = [hsize_t](repeating: 0, count: Int(rank))
        guard H5Sget_simple_extent_dims(space, &dims, nil) >= 0 else { throw fail(name, "read the dimensions") }
        do {
            return try Shape(checking: dims.map { $0 > UInt64(Int.max) ? -1 : Int($0) }, limit: HDF5.maximumElements)
        } catch {
            throw .invalid(file: fileName, path: childPath(name), message: "has impossible dimensions \(dims)")
        }
    }

    private static func className(_ c: H5T_class_t) -> String {
        switch c {
        case H5T_STRING: "string"
        case H5T_COMPOUND: "compound"
        case H5T_REFERENCE: "reference"
        default: "non-numeric"
        }
    }

    // MARK: Attributes

    func hasAttribute(_ name: String) -> Bool {
        let r = H5Aexists(id, name)
        if r < 0 { _ = HDF5.lastError() }
        return r > 0
    }

    /// Reads a string attribute, scalar or array, fixed- or variable-length. A numeric
    /// attribute with no elements (h5py's spelling of an empty list, as Keras writes
    /// `weight_names` of a weightless layer) reads as no strings.
    func strings(_ attribute: String) throws(HDF5Error) -> [String] {
        let where_ = path.isEmpty ? "@" + attribute : path + "@" + attribute
        guard hasAttribute(attribute) else { throw .missing(file: fileName, path: where_) }
        let a = H5Aopen(id, attribute, ttl_h5p_default())
        guard a >= 0 else { throw .library(file: fileName, path: where_, operation: "open the attribute", message: HDF5.lastError()) }
        defer { H5Aclose(a) }
        let type = H5Aget_type(a)
        let space = H5Aget_space(a)
        defer { if type >= 0 { H5Tclose(type) }; if space >= 0 { H5Sclose(space) } }
        guard type >= 0, space >= 0 else {
            throw .library(file: fileName, path: where_, operation: "read the attribute's type", message: HDF5.lastError())
        }
        let count = Int(max(0, H5Sget_simple_extent_npoints(space)))
        guard count <= 1 << 20 else { throw .invalid(file: fileName, path: where_, message: "holds \(count) values") }
        let typeClass = H5Tget_class(type)
        if typeClass != H5T_STRING {
            if count == 0 { return [] }
            throw .invalid(file: fileName, path: where_, message: "is not a string attribute")
        }
        if count == 0 { return [] }
        if H5Tis_variable_str(type) > 0 {
            let memType = H5Tcopy(ttl_h5t_c_s1())
            defer { H5Tclose(memType) }
            H5Tset_size(memType, ttl_h5t_variable())
            H5Tset_cset(memType, H5Tget_cset(type))
            var pointers = [UnsafeMutablePointer<CChar>?](repeating: nil, count: count)
            guard H5Aread(a, memType, &pointers) >= 0 else {
                throw .library(file: fileName, path: where_, operation: "read the attribute", message: HDF5.lastError())
            }
            let result = pointers.map { $0.map { String(cString: $0) } ?? "" }
            _ = ttl_h5_reclaim(memType, space, &pointers)
            return result
        }
        let size = H5Tget_size(type)
        guard size > 0, size * count <= 1 << 26 else { throw .invalid(file: fileName, path: where_, message: "has strings of \(size) bytes") }
        var bytes = [UInt8](repeating: 0, count: size * count)
        guard H5Aread(a, type, &bytes) >= 0 else {
            throw .library(file: fileName, path: where_, operation: "read the attribute", message: HDF5.lastError())
        }
        return (0 ..< count).map { i in
            let slice = bytes[i * size ..< (i + 1) * size]
            let end = slice.firstIndex(of: 0) ?? slice.endIndex
            return String(decoding: slice[slice.startIndex ..< end], as: UTF8.self).trimmingCharacters(in: .init(charactersIn: " "))
        }
    }

    /// The single string of a scalar (or one-element) string attribute.
    func string(_ attribute: String) throws(HDF5Error) -> String {
        let values = try strings(attribute)
        guard values.count == 1 else {
            throw .invalid(file: fileName, path: (path.isEmpty ? "@" : path + "@") + attribute, message: "holds \(values.count) strings, expected one")
        }
        return values[0]
    }

    /// Writes fixed-length UTF-8 strings, as h5py writes NumPy byte strings: a scalar when
    /// `scalar` (one string), else a 1-D array. An empty list is written as an empty float
    /// array, as h5py does for Keras's weightless layers.
    func write(strings values: [String], as attribute: String, scalar: Bool = false) throws(HDF5Error) {
        let where_ = path.isEmpty ? "@" + attribute : path + "@" + attribute
        precondition(!scalar || values.count == 1)
        if values.isEmpty {
            var dims: [hsize_t] = [0]
            let space = H5Screate_simple(1, &dims, nil)
            defer { H5Sclose(space) }
            let a = ttl_h5_acreate(id, attribute, ttl_h5t_ieee_f32le(), space)
            guard a >= 0 else { throw .library(file: fileName, path: where_, operation: "create the attribute", message: HDF5.lastError()) }
            H5Aclose(a)
            return
        }
        let utf8 = values.map { Array($0.utf8) }
        let size = max(1, utf8.map(\.count).max() ?? 1)
        var bytes = [UInt8](repeating: 0, count: size * utf8.count)
        for (i, s) in utf8.enumerated() { bytes.replaceSubrange(i * size ..< i * size + s.count, with: s) }
        let type = H5Tcopy(ttl_h5t_c_s1())
        defer { H5Tclose(type) }
        H5Tset_size(type, size)
        H5Tset_strpad(type, H5T_STR_NULLPAD)
        var dims: [hsize_t] = [hsize_t(values.count)]
        let space = scalar ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &dims, nil)
        defer { H5Sclose(space) }
        let a = ttl_h5_acreate(id, attribute, type, space)
        guard a >= 0 else { throw .library(file: fileName, path: where_, operation: "create the attribute", message: HDF5.lastError()) }
        defer { H5Aclose(a) }
        guard H5Awrite(a, type, bytes) >= 0 else {
            throw .library(file: fileName, path: where_, operation: "write the attribute", message: HDF5.lastError())
        }
    }
}
