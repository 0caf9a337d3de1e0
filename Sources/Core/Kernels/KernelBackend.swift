import CKernels
import CXNNPACK

/// Where int8 layers run. `best` picks the fastest one this CPU supports.
public enum KernelBackend: String, CaseIterable, Sendable, CustomStringConvertible {
    /// Portable scalar C: the ground truth every other backend must match bit for bit.
    case reference
    /// Our x86-64 AVX2 kernels.
    case avx2
    /// Our x86-64 AVX-512 VNNI kernels.
    case avx512vnni
    /// XNNPACK (Debian's build) for requantizing layers, the reference for the rest; strongest on ARM.
    case xnnpack

    /// True when this machine can run the backend.
    public var isAvailable: Bool {
        switch self {
        case .reference: true
        case .avx2: sk_isa_available(SK_ISA_AVX2) != 0
        case .avx512vnni: sk_isa_available(SK_ISA_AVX512VNNI) != 0
        case .xnnpack: XNNPACK.isReady
        }
    }

    /// The fastest available backend: our VNNI or AVX2 kernels on x86-64, XNNPACK elsewhere.
    public static var best: KernelBackend {
        #if arch(x86_64)
        let isa = sk_isa_best()
        if isa == SK_ISA_AVX512VNNI { return .avx512vnni }
        if isa == SK_ISA_AVX2 { return .avx2 }
        #endif
        return XNNPACK.isReady ? .xnnpack : .reference
    }

    /// Backends usable here.
    public static var available: [KernelBackend] { allCases.filter(\.isAvailable) }

    /// The instruction set of our own kernels used by this backend (XNNPACK falls back to the reference).
    var isa: sk_isa {
        switch self {
        case .reference, .xnnpack: SK_ISA_REFERENCE
        case .avx2: SK_ISA_AVX2
        case .avx512vnni: SK_ISA_AVX512VNNI
        }
    }

    public var description: String { rawValue }

    /// Parses a backend name, or `auto` for `best`.
    public init(parsing text: String) throws(ModelError) {
        if text == "auto" {
            self = .best
            return
        }
        guard let backend = KernelBackend(rawValue: text) else {
            throw ModelError(.invalidArgument, "unknown backend '\(text)'; use auto, \(Self.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard backend.isAvailable else {
            throw ModelError(.invalidArgument, "backend '\(text)' is not available on this machine")
        }
        self = backend
    }
}
