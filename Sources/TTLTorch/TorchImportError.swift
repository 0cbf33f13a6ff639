// Errors of the PyTorch and safetensors readers and writers. Every case names the file and
// the key or the byte offset where the problem is.
import TTLNN

/// A PyTorch checkpoint or safetensors file that ttl cannot read, or cannot write.
public struct TorchImportError: Error, Equatable, CustomStringConvertible {
    /// What went wrong, with the key or byte offset where there is one.
    public enum Reason: Equatable, Sendable {
        /// The file could not be read; the system's message.
        case unreadable(String)
        /// The bytes are none of the formats ttl reads (zip, legacy torch.save, safetensors).
        case unknownFormat(String)
        /// A TorchScript archive (`torch.jit.save`): it holds code, not a state dict.
        case torchScript
        /// The tar format of PyTorch before 0.4.
        case tarFormat
        /// A damaged or unsupported zip archive; the offset of the record at fault.
        case zip(offset: Int, problem: String)
        /// A pickle opcode outside the allowlist, at its byte offset in the pickle.
        case forbiddenOpcode(opcode: UInt8, offset: Int)
        /// A GLOBAL naming a symbol outside the allowlist; nothing was called.
        case forbiddenGlobal(module: String, name: String, offset: Int)
        /// A malformed pickle (stack underflow, wrong operand types, caps exceeded), at a byte offset.
        case pickle(offset: Int, problem: String)
        /// A storage whose record is missing or of the wrong size.
        case storage(key: String, problem: String)
        /// A tensor whose offset, sizes or strides do not fit its storage.
        case tensor(key: String, problem: String)
        /// A tensor of a dtype ttl does not import (only int64 `num_batches_tracked` is skipped).
        case unsupportedDType(key: String, dtype: String)
        /// A damaged safetensors header, at a byte offset of the file.
        case header(offset: Int, problem: String)
        /// No state dict of tensors where a checkpoint keeps one.
        case noStateDict(String)
        /// Keys that match no built-in architecture, or do not match the one asked for.
        case architecture(String)
        /// The weights and the architecture disagree; the report lists missing, unexpected and mis-shaped keys.
        case load(LoadReport)
        /// Writing the file failed; the system's message or what cannot be written.
        case cannotWrite(String)
    }
    /// The file's path, or the name given for bytes read from memory.
    public var file: String
    /// What went wrong.
    public var reason: Reason

    /// An error about `file`.
    public init(file: String, _ reason: Reason) { self.file = file; self.reason = reason }

    public var description: String { "\(file): \(problem)" }

    /// What went wrong, without the file's name.
    public var problem: String {
        switch reason {
        case let .unreadable(m): "cannot read: \(m)"
        case let .unknownFormat(m): "not a PyTorch checkpoint or safetensors file (\(m))"
        case .torchScript: "a TorchScript archive (torch.jit.save), which holds code; re-save the weights with torch.save(model.state_dict(), path)"
        case .tarFormat: "the tar format of PyTorch < 0.4; load it in PyTorch and re-save it with torch.save(model.state_dict(), path)"
        case let .zip(offset, problem): "zip archive, byte \(offset): \(problem)"
        case let .forbiddenOpcode(op, offset): "pickle byte \(offset): opcode 0x\(String(op, radix: 16)) is not allowed in a state dict (nothing was executed)"
        case let .forbiddenGlobal(module, name, offset): "pickle byte \(offset): refusing GLOBAL '\(module).\(name)' (not a tensor rebuild or container; nothing was executed)"
        case let .pickle(offset, problem): "pickle byte \(offset): \(problem)"
        case let .storage(key, problem): "storage '\(key)': \(problem)"
        case let .tensor(key, problem): "tensor '\(key)': \(problem)"
        case let .unsupportedDType(key, dtype): "tensor '\(key)': dtype \(dtype) is not imported (ttl reads float32, float16, bfloat16 and float64)"
        case let .header(offset, problem): "safetensors header, byte \(offset): \(problem)"
        case let .noStateDict(m): m
        case let .architecture(m): m
        case let .load(report): "the weights do not match the architecture: \(report)"
        case let .cannotWrite(m): "cannot write: \(m)"
        }
    }
}
