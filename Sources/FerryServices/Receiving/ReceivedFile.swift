import FerryDICOM
import FerryNetwork
import Glibc
import NIOCore

/// One instance being received: its data set bytes go to a file in the output directory as
/// they arrive (bounded memory), after a file meta header; when the last fragment is in, the
/// instance is checked and given its name atomically, or dropped. A new file is unnamed until
/// then (O_TMPFILE): a receiver killed mid-store leaves nothing of it behind, and a new name
/// costs one link instead of a temporary name created, renamed and checked for a replaced
/// file. A spare (see SpareFiles: storing over existing files) has a hidden name, and so has
/// every file where O_TMPFILE is unsupported (`.ferry-receiving-*`); a kill leaves those.
/// Blocking file I/O: callers run it on a thread pool, not on an event loop.
final class ReceivedFile {
    let options: StoreOutputOptions
    let sopClass: String
    let sopInstance: String
    let transferSyntax: TransferSyntax
    let callingAE: String
    /// Where a file replaced by this one is kept for reuse, and this one's file comes from.
    private let spares: SpareFiles?
    /// The file's name while it is received: nil for an unnamed (O_TMPFILE) file.
    private(set) var tempPath: String?
    private var fd: Int32 = -1
    private var failure: ServiceError?
    private(set) var bytesReceived = 0
    /// The file's first bytes (meta and the start of the data set), kept so the header can
    /// be checked without opening the file again.
    private var head: [UInt8] = []
    static let headLimit = 64 * 1024

    /// Received bytes not yet written (see append(_: ByteBuffer)), and bytes written.
    private var pending: [ByteBuffer] = []
    private var pendingBytes = 0
    private var written = 0
    static let writeBatch = 64 * 1024
    static let page = 4096
    /// Whether the file is a replaced one being written over (see SpareFiles).
    private var reused = false
    /// Far below IOV_MAX (1024), for peers that send tiny fragments.
    static let maxPendingFragments = 64

    /// O_TMPFILE (Linux 3.11; ext4, XFS, Btrfs, tmpfs), which the Glibc module does not export:
    /// __O_TMPFILE (the same on x86_64 and arm64) with the architecture's O_DIRECTORY.
    static let tmpfile: Int32 = 0o20_000_000 | O_DIRECTORY
    /// An unnamed file is named by linking its /proc/self/fd entry (AT_EMPTY_PATH would need
    /// CAP_DAC_READ_SEARCH): without /proc, files are named from the start.
    static let linksUnnamedFiles = access("/proc/self/fd", F_OK) == 0

    /// An unnamed file in `directory`, or nil where that is unsupported.
    private static func openUnnamed(in directory: String) -> Int32? {
        guard linksUnnamedFiles else { return nil }
        let fd = open(directory, tmpfile | O_WRONLY | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return nil }
        fchmod(fd, 0o644)  // whatever the umask, as the other paths: readable like DCMTK's files
        return fd
    }

    /// How the names of files not yet in place begin (temporary and spare files): hidden.
    static let scratchPrefix = ".ferry-receiving-"

    /// A hidden name in `directory` for a file not yet in place (a temporary or spare file).
    static func scratchName(in directory: String) -> String {
        directory + "/" + scratchPrefix + String(UInt64.random(in: 0...UInt64.max), radix: 36)
    }

    /// A path that opens this file, named or not.
    private var readablePath: String? { tempPath ?? (fd >= 0 ? "/proc/self/fd/\(fd)" : nil) }

    /// Opens the temporary file, or records why this instance will be refused (a bad UID
    /// from the command: nothing is created then).
    init(
        options: StoreOutputOptions, sopClass: String, sopInstance: String, transferSyntax: TransferSyntax,
        callingAE: String, spares: SpareFiles? = nil
    ) {
        self.options = options
        self.spares = spares
        self.sopClass = sopClass
        self.sopInstance = sopInstance
        self.transferSyntax = transferSyntax
        self.callingAE = callingAE
        guard !options.ignore else { return }
        guard UIDGrammar.isValid(sopInstance) else {
            failure = .cannotUnderstand("invalid Affected SOP Instance UID \"\(sopInstance.prefix(80))\"")
            return
        }
        guard UIDGrammar.isValid(sopClass) else {
            failure = .cannotUnderstand("invalid Affected SOP Class UID")
            return
        }
        if let spare = spares?.take(in: options.directory) {
            (fd, tempPath) = spare
            reused = true
        } else if let unnamed = Self.openUnnamed(in: options.directory) {
            fd = unnamed
        } else {
            var template = Array("\(options.directory)/\(Self.scratchPrefix)XXXXXX".utf8CString)
            let created = template.withUnsafeMutableBufferPointer { buf in buf.baseAddress.map { mkstemp($0) } ?? -1 }
            guard created >= 0 else {
                failure = .outOfResources(
                    "cannot create a file in the output directory: " + String(cString: strerror(errno)))
                return
            }
            fd = created
            fchmod(fd, 0o644)  // mkstemp makes 0600; stored instances are readable like DCMTK's
            tempPath = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
        let meta = Part10Writer.fileMeta(
            sopClass: sopClass, sopInstance: sopInstance, transferSyntax: transferSyntax, sourceAE: callingAE)
        do {
            append(try Part10Writer.encodeMetaWithPreamble(meta))
        } catch {
            failure = .cannotUnderstand("cannot encode the file meta: \(error)")
        }
    }

    /// A received fragment goes from the socket buffer to the file without a copy: fragments
    /// are held until they make `writeBatch` bytes, then written by one writev (a data set in
    /// 16 KiB PDUs takes a few writes instead of one per fragment).
    func append(_ bytes: ByteBuffer) {
        bytesReceived += bytes.readableBytes
        guard fd >= 0, failure == nil else { return }
        if head.count < Self.headLimit {
            bytes.withUnsafeReadableBytes { raw in
                head.append(contentsOf: raw.bindMemory(to: UInt8.self).prefix(Self.headLimit - head.count))
            }
        }
        pending.append(bytes)
        pendingBytes += bytes.readableBytes
        if pendingBytes >= Self.writeBatch || pending.count >= Self.maxPendingFragments { writePending(all: false) }
    }

    func append(_ bytes: [UInt8]) {
        append(ByteBuffer(bytes: bytes))
    }

    /// Writes the held fragments in order, with as few writev calls as the kernel allows.
    /// Unless `all`, only up to the last page boundary: every write then starts on a page, so
    /// writing over a reused file's blocks never has to read a page first to merge it.
    private func writePending(all: Bool) {
        guard fd >= 0, failure == nil else {
            pending.removeAll()
            pendingBytes = 0
            return
        }
        var count = pendingBytes
        if !all {
            count = (written + pendingBytes) / Self.page * Self.page - written
            guard count > 0 else { return }
        }
        // The pointers stay valid while `pending` holds the buffers (nothing mutates them).
        var vectors: [iovec] = []
        var left = count
        for fragment in pending where left > 0 {
            fragment.withUnsafeReadableBytes { raw in
                let take = min(raw.count, left)
                vectors.append(iovec(iov_base: UnsafeMutableRawPointer(mutating: raw.baseAddress), iov_len: take))
                left -= take
            }
        }
        var first = 0
        while first < vectors.count {
            let n = vectors[first...].withUnsafeBufferPointer { v in
                writev(fd, v.baseAddress, Int32(clamping: v.count))
            }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                failure = .outOfResources("writing the received data failed: " + String(cString: strerror(errno)))
                return
            }
            // Skips what was written: whole vectors, then part of the next.
            var done = n
            while first < vectors.count, done >= vectors[first].iov_len {
                done -= vectors[first].iov_len
                first += 1
            }
            if first < vectors.count, done > 0, let base = vectors[first].iov_base {
                vectors[first] = iovec(iov_base: base + done, iov_len: vectors[first].iov_len - done)
            }
        }
        written += count
        pendingBytes -= count
        // Keeps what is past the boundary: the fragments not reached, the rest of a cut one.
        var drop = count
        var rest: [ByteBuffer] = []
        for var fragment in pending {
            if drop >= fragment.readableBytes {
                drop -= fragment.readableBytes
                continue
            }
            fragment.moveReaderIndex(forwardBy: drop)
            drop = 0
            rest.append(fragment)
        }
        pending = rest
    }

    /// Finishes the instance: writes it into place and returns its path and study, or throws
    /// the refusal to answer with (the temporary file is removed either way).
    func commit(
        sorting: StudySorting
    ) throws(ServiceError) -> (path: String, study: String, completed: StudySorting.CompletedStudy?)? {
        defer { discard() }
        if options.ignore { return nil }
        if let failure { throw failure }  // a refusal (the file is already dropped)
        if reused, ftruncate(fd, off_t(written)) != 0 {
            // The old data past what is written goes (the tail then merges with no old page).
            throw ServiceError.outOfResources("cannot cut the file: " + String(cString: strerror(errno)))
        }
        writePending(all: true)
        if let failure { throw failure }
        guard let temp = readablePath else { throw ServiceError.outOfResources("no temporary file") }
        if options.fsync, Glibc.fsync(fd) != 0 {
            throw ServiceError.outOfResources("fsync failed: " + String(cString: strerror(errno)))
        }

        // What the data set says about itself: checked before any path is built from it.
        let summary: HeaderSummary
        do {
            let size = bytesReceived
            do { summary = try HeaderScan.summary(prefix: head, fileSize: size, path: temp) } catch
                where head.count < size
            {
                summary = try HeaderScan.summary(path: temp)  // a header longer than the kept head
            }
        } catch {
            throw ServiceError.cannotUnderstand("the received data set cannot be parsed: \(error.detail)")
        }
        guard let instance = summary.sopInstanceUID, UIDGrammar.isValid(instance) else {
            throw ServiceError.cannotUnderstand("invalid SOP Instance UID in the data set")
        }
        guard instance == sopInstance else {
            throw ServiceError.doesNotMatch("SOP Instance UID \(instance) differs from the command's \(sopInstance)")
        }
        guard let study = summary.studyInstanceUID, UIDGrammar.isValid(study) else {
            throw ServiceError.cannotUnderstand("invalid or missing Study Instance UID in the data set")
        }

        if !options.streamsAsReceived || !options.writeFileFormat {
            let out = try converted(temp)
            discard()  // the received file; the converted one takes its place
            tempPath = out
        }
        let (directory, completed) = try sorting.directory(for: summary, options: options)
        var finalPath = directory + "/" + fileName()
        if options.keepExisting {
            finalPath = try placeKeepingExisting(at: finalPath, directory: directory)
        } else {
            try place(at: finalPath)
        }
        tempPath = nil
        if options.fsync { syncDirectory(directory) }
        return (finalPath, study, completed)
    }

    /// Links this file at `path`: true, or false when a file is there already (EEXIST).
    /// An unnamed file is linked through /proc, a named one (a spare) unlinked afterwards.
    private func link(at path: String) throws(ServiceError) -> Bool {
        guard let source = readablePath else { throw ServiceError.outOfResources("no temporary file") }
        if linkat(AT_FDCWD, source, AT_FDCWD, path, AT_SYMLINK_FOLLOW) == 0 {
            if let named = tempPath { unlink(named) }
            tempPath = nil
            return true
        }
        if errno == EEXIST { return false }
        throw ServiceError.outOfResources("cannot put the file in place: " + String(cString: strerror(errno)))
    }

    /// Puts this file at `path`, replacing a file there atomically: a new name is one link;
    /// over an existing file the file gets a hidden name, the replaced one is kept as a spare
    /// (see SpareFiles), and a rename swaps them.
    private func place(at path: String) throws(ServiceError) {
        if tempPath == nil {
            if try link(at: path) { return }
            let name = Self.scratchName(in: options.directory)
            guard try link(at: name) else { throw ServiceError.outOfResources("a scratch name was taken") }
            tempPath = name
        }
        guard let source = tempPath else { return }
        spares?.keep(replacing: path, in: options.directory)
        if rename(source, path) != 0 {
            throw ServiceError.outOfResources("cannot move the file into place: " + String(cString: strerror(errno)))
        }
    }

    /// Re-encodes the received instance (+te/+tb/+ti/+td, -u, -F) into a second temporary file.
    private func converted(_ temp: String) throws(ServiceError) -> String {
        let target: TransferSyntax =
            switch options.outputSyntax {
            case .same: transferSyntax
            case .little: .explicitVRLittleEndian
            case .big: .explicitVRBigEndian
            case .implicit: .implicitVRLittleEndian
            case .deflated: .deflatedExplicitVRLittleEndian
            }
        do {
            let file = try Part10Reader.read(path: temp)
            var conversion = DataSetConversion()
            conversion.disableNewVRs = options.disableNewVRs
            conversion.deflateLevel = options.deflateLevel
            let canConvert = !transferSyntax.isEncapsulated || target == transferSyntax
            let ts = canConvert ? target : transferSyntax
            var bytes = try conversion.encode(file.dataSet, as: ts)
            if options.writeFileFormat {
                let meta = Part10Writer.fileMeta(
                    sopClass: sopClass, sopInstance: sopInstance, transferSyntax: ts, sourceAE: callingAE)
                bytes = try Part10Writer.encodeMetaWithPreamble(meta) + bytes
            }
            let out = Self.scratchName(in: options.directory)
            do { try FileBytes.write(bytes, to: out, sync: options.fsync) } catch {
                unlink(out)
                throw error
            }
            return out
        } catch {
            throw ServiceError.outOfResources("converting the received data set failed: \(error)")
        }
    }

    /// Puts this file at `path`, or under a unique name beside it when a file is there: a link
    /// refuses to replace, atomically. A named file on a file system without hard links (the
    /// link fails otherwise) is renamed instead, after a check (racy only against a second
    /// writer of the same instance).
    private func placeKeepingExisting(at path: String, directory: String) throws(ServiceError) -> String {
        var unique: String { directory + "/" + fileName(naming: .unique) }  // made only on a collision
        var other = ""
        do throws(ServiceError) {
            if try link(at: path) { return path }
            other = unique
            if try link(at: other) { return other }
        } catch  where tempPath != nil {
            // No hard links here: a rename, which would replace, to a name that is free.
            let target = access(path, F_OK) == 0 ? unique : path
            guard let source = tempPath, rename(source, target) == 0 else {
                throw ServiceError.outOfResources(
                    "cannot move the file into place: " + String(cString: strerror(errno)))
            }
            tempPath = nil
            return target
        }
        throw ServiceError.outOfResources("both \(path) and the unique name \(other) exist")
    }

    private func fileName(naming: StoreOutputOptions.Naming? = nil) -> String {
        let prefix = ModalityPrefix.of(sopClass)
        switch naming ?? options.naming {
        case .uid: return "\(prefix).\(sopInstance)\(options.fileExtension)"
        case .unique: return "\(prefix)_\(sopInstance)_\(UIDGenerator.make().suffix(12))\(options.fileExtension)"
        case .time: return "\(Timestamp.now().compact)_\(Timestamp.serial()).\(prefix)\(options.fileExtension)"
        }
    }

    private func syncDirectory(_ dir: String) {
        let d = open(dir, O_RDONLY | O_DIRECTORY)
        if d >= 0 { _ = Glibc.fsync(d); close(d) }
    }

    /// Stops storing this instance: what was written is removed, what still arrives is
    /// counted and dropped, and the store is answered with `refusal`.
    func refuse(_ refusal: ServiceError) {
        if failure == nil { failure = refusal }
        discard()
    }

    /// Removes whatever temporary file is left and closes the descriptor.
    func discard() {
        pending.removeAll()
        pendingBytes = 0
        if fd >= 0 { close(fd); fd = -1 }
        if let t = tempPath { unlink(t); tempPath = nil }
    }

    deinit { discard() }
}
