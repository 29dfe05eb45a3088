import FerryDICOM
import FerryNetwork
import Glibc
import NIOCore

/// One instance being received: its data set bytes go to a temporary file in the output
/// directory as they arrive (bounded memory), after a file meta header; when the last
/// fragment is in, the instance is checked and renamed into place atomically, or deleted.
/// Blocking file I/O: callers run it on a thread pool, not on an event loop.
final class ReceivedFile {
    let options: StoreOutputOptions
    let sopClass: String
    let sopInstance: String
    let transferSyntax: TransferSyntax
    let callingAE: String
    /// Where a file replaced by this one is kept for reuse, and this one's file comes from.
    private let spares: SpareFiles?
    private(set) var tempPath: String?
    private var fd: Int32 = -1
    private var buffer: [UInt8] = []
    private var failure: ServiceError?
    private(set) var bytesReceived = 0
    /// The file's first bytes (meta and the start of the data set), kept so the header can
    /// be checked without opening the file again.
    private var head: [UInt8] = []
    static let headLimit = 64 * 1024

    static let flushThreshold = 512 * 1024
    /// Received fragments not yet written (see append(_: ByteBuffer)).
    private var pending: [ByteBuffer] = []
    private var pendingBytes = 0
    static let writeBatch = 64 * 1024
    /// Far below IOV_MAX (1024), for peers that send tiny fragments.
    static let maxPendingFragments = 64

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
        } else {
            var template = Array("\(options.directory)/.ferry-receiving-XXXXXX".utf8CString)
            let created = template.withUnsafeMutableBufferPointer { buf in buf.baseAddress.map { mkstemp($0) } ?? -1 }
            guard created >= 0 else {
                failure = .outOfResources(
                    "cannot create a file in the output directory: " + String(cString: strerror(errno)))
                return
            }
            fd = created
            fchmod(fd, 0o644)  // mkstemp makes 0600; stored instances are readable like DCMTK's
            tempPath = String(cString: template)
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
        flush()
        if head.count < Self.headLimit {
            bytes.withUnsafeReadableBytes { raw in
                head.append(contentsOf: raw.bindMemory(to: UInt8.self).prefix(Self.headLimit - head.count))
            }
        }
        pending.append(bytes)
        pendingBytes += bytes.readableBytes
        if pendingBytes >= Self.writeBatch || pending.count >= Self.maxPendingFragments { writePending() }
    }

    func append(_ bytes: [UInt8]) {
        bytesReceived += bytes.count
        guard fd >= 0, failure == nil else { return }
        writePending()
        head.append(contentsOf: bytes.prefix(Self.headLimit))
        buffer.append(contentsOf: bytes)
        if buffer.count >= Self.flushThreshold { flush() }
    }

    /// Writes the held fragments, in order, with as few writev calls as the kernel allows.
    private func writePending() {
        defer {
            pending.removeAll(keepingCapacity: true)
            pendingBytes = 0
        }
        guard fd >= 0, failure == nil, !pending.isEmpty else { return }
        // The pointers stay valid while `pending` holds the buffers (nothing mutates them).
        var vectors = pending.map { fragment in
            fragment.withUnsafeReadableBytes { raw in
                iovec(iov_base: UnsafeMutableRawPointer(mutating: raw.baseAddress), iov_len: raw.count)
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
            var written = n
            while first < vectors.count, written >= vectors[first].iov_len {
                written -= vectors[first].iov_len
                first += 1
            }
            if first < vectors.count, written > 0, let base = vectors[first].iov_base {
                vectors[first] = iovec(iov_base: base + written, iov_len: vectors[first].iov_len - written)
            }
        }
    }

    private func flush() {
        guard fd >= 0, failure == nil, !buffer.isEmpty else { return }
        buffer.withUnsafeBytes { writeAll($0) }
        buffer.removeAll(keepingCapacity: true)
    }

    private func writeAll(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, failure == nil else { return }
        var done = 0
        while done < bytes.count {
            let n = write(fd, base + done, bytes.count - done)
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                failure = .outOfResources("writing the received data failed: " + String(cString: strerror(errno)))
                return
            }
            done += n
        }
    }

    /// Finishes the instance: writes it into place and returns its path, or throws the
    /// refusal to answer with (the temporary file is removed either way).
    func commit(sorting: StudySorting) throws(ServiceError) -> (path: String, completed: StudySorting.CompletedStudy?)?
    {
        defer { discard() }
        if options.ignore { return nil }
        flush()
        writePending()
        if let failure { throw failure }
        guard let temp = tempPath else { throw ServiceError.outOfResources("no temporary file") }
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

        var source = temp
        if !options.streamsAsReceived || !options.writeFileFormat {
            source = try converted(temp)
        }
        let (directory, completed) = try sorting.directory(for: summary, options: options)
        var finalPath = directory + "/" + fileName()
        if options.keepExisting {
            finalPath = try placeKeepingExisting(source, at: finalPath, directory: directory)
        } else {
            spares?.keep(replacing: finalPath, in: options.directory)
            if rename(source, finalPath) != 0 {
                throw ServiceError.outOfResources(
                    "cannot move the file into place: " + String(cString: strerror(errno)))
            }
        }
        if source == temp { tempPath = nil }
        if options.fsync { syncDirectory(directory) }
        return (finalPath, completed)
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
            let out = temp + ".out"
            try FileBytes.write(bytes, to: out, sync: options.fsync)
            return out
        } catch {
            throw ServiceError.outOfResources("converting the received data set failed: \(error)")
        }
    }

    /// Puts `source` at `path`, or under a unique name beside it when a file is there:
    /// link() refuses to replace, atomically. Where the file system has no hard links, a
    /// checked rename (racy only against a second writer of the same instance).
    private func placeKeepingExisting(
        _ source: String, at path: String, directory: String
    ) throws(ServiceError)
        -> String
    {
        var target = path
        if link(source, target) == 0 {
            unlink(source)
            return target
        }
        if errno == EEXIST || access(target, F_OK) == 0 {
            target = directory + "/" + fileName(naming: .unique)
            if link(source, target) == 0 {
                unlink(source)
                return target
            }
        }
        if rename(source, target) != 0 {
            throw ServiceError.outOfResources("cannot move the file into place: " + String(cString: strerror(errno)))
        }
        return target
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
        if fd >= 0 { close(fd); fd = -1 }
        if let t = tempPath { unlink(t); unlink(t + ".out"); tempPath = nil }
    }

    deinit { discard() }
}
