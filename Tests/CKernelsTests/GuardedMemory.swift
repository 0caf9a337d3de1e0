#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Kernel operands in guarded memory: an exact-size Swift array usually sits inside a larger
// heap block, so a kernel that reads or writes a few bytes past it goes unnoticed. Here the
// bytes END where a PROT_NONE page begins (and start after another one), so any access past
// the end faults at once and takes the test process down with a SIGSEGV.

/// One mapping: [guard page][data pages][guard page]. The usable bytes are placed as late as
/// their alignment allows; the few bytes an alignment above 1 leaves before the trailing guard
/// page hold a canary, checked by `intact`.
final class GuardedBytes {
    static let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
    static let canary: UInt8 = 0xC3

    let raw: UnsafeMutableRawPointer
    let count: Int
    private let mapping: UnsafeMutableRawPointer
    private let dataBytes: Int
    private let slack: Int

    /// `count` bytes aligned to `alignment` (a power of two up to the page size), filled with
    /// `fill`.
    init(count: Int, alignment: Int = 1, fill: UInt8 = 0xA5) {
        let page = Self.pageSize
        precondition(count >= 0 && alignment > 0 && alignment & (alignment - 1) == 0 && alignment <= page)
        dataBytes = max(1, (count + alignment - 1 + page - 1) / page) * page
        let mapped = mmap(nil, dataBytes + 2 * page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        guard let mapped, mapped != UnsafeMutableRawPointer(bitPattern: -1) else {
            fatalError("mmap of \(dataBytes + 2 * page) bytes failed")
        }
        mapping = mapped
        let data = mapped + page
        precondition(mprotect(data, dataBytes, PROT_READ | PROT_WRITE) == 0)
        let end = Int(bitPattern: data) + dataBytes
        let start = (end - count) & ~(alignment - 1)
        raw = UnsafeMutableRawPointer(bitPattern: start)!
        self.count = count
        slack = end - start - count
        raw.initializeMemory(as: UInt8.self, repeating: fill, count: count)
        (raw + count).initializeMemory(as: UInt8.self, repeating: Self.canary, count: slack)
    }

    /// Makes the data pages read-only, so that a write to an input faults as well.
    func makeReadOnly() {
        precondition(mprotect(mapping + Self.pageSize, dataBytes, PROT_READ) == 0)
    }

    /// False when something wrote into the alignment slack past the end.
    var intact: Bool {
        let tail = (raw + count).assumingMemoryBound(to: UInt8.self)
        return (0..<slack).allSatisfy { tail[$0] == Self.canary }
    }

    deinit { munmap(mapping, dataBytes + 2 * Self.pageSize) }
}

/// `count` values of a plain type in guarded memory: an input copied from an array (read-only
/// by default), or an output filled with a sentinel. Keep the object alive (a local variable
/// used after the kernel call, e.g. to read `array`) for as long as a kernel uses `pointer`.
final class Guarded<T: BitwiseCopyable> {
    let bytes: GuardedBytes
    let pointer: UnsafeMutablePointer<T>
    let count: Int

    /// A copy of `values`.
    init(_ values: [T], readOnly: Bool = true, alignment: Int = MemoryLayout<T>.alignment) {
        count = values.count
        bytes = GuardedBytes(count: count * MemoryLayout<T>.stride, alignment: alignment)
        pointer = bytes.raw.bindMemory(to: T.self, capacity: count)
        values.withUnsafeBufferPointer { if let base = $0.baseAddress { pointer.initialize(from: base, count: count) } }
        if readOnly { bytes.makeReadOnly() }
    }

    /// `count` copies of `value` (an output to be overwritten).
    convenience init(repeating value: T, count: Int) {
        self.init([T](repeating: value, count: count), readOnly: false)
    }

    var array: [T] { Array(UnsafeBufferPointer(start: pointer, count: count)) }
    var intact: Bool { bytes.intact }
}
