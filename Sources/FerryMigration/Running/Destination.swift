import FerryDICOM
import FerryNetwork
import FerryServices
import Logging
import NIOCore

extension Job {
    /// The sender of this job's files: its transcoding policy and deflate level.
    func fileSender(logger: Logger) -> FileSender {
        var conversion = DataSetConversion()
        conversion.deflateLevel = Int32(transfer.transcoding.deflateLevel)
        return FileSender(conversion: conversion, policy: transcodingPolicy, logger: logger)
    }

    /// Association parameters, timeouts and TLS for the destination; secrets are read from
    /// the environment variable or file the job names.
    func connection() throws -> (parameters: AssociationParameters, timeouts: Timeouts, tls: TLSOptions?) {
        try connection(to: destinationPeer)
    }

    /// Association parameters, timeouts and TLS for one of the job's peers, with the job's
    /// transfer settings.
    func connection(to peer: Peer) throws -> (parameters: AssociationParameters, timeouts: Timeouts, tls: TLSOptions?) {
        var p = AssociationParameters()
        p.callingAE = peer.callingAE
        p.calledAE = peer.calledAE
        p.maxReceivePDU = UInt32(clamping: transfer.maxPDU)
        if let user = peer.user {
            let password = try Secret.read(
                env: user.passwordEnv, file: user.passwordFile, what: "user identity password")
            p.userIdentity = .username(
                user.username, passcode: password, positiveResponse: user.positiveResponse ?? false)
        }
        var t = Timeouts()
        t.connect = .milliseconds(Int64((transfer.connectTimeout * 1000).rounded()))
        t.acse = .milliseconds(Int64((transfer.acseTimeout * 1000).rounded()))
        t.dimse = .milliseconds(Int64((transfer.dimseTimeout * 1000).rounded()))
        var tls: TLSOptions?
        if let cfg = peer.tls {
            var o = TLSOptions()
            o.certificateFile = cfg.certificate
            o.privateKeyFile = cfg.key
            o.privateKeyPassword = try Secret.read(
                env: cfg.keyPasswordEnv, file: cfg.keyPasswordFile, what: "TLS key password")
            o.trustedCertificateFiles = cfg.caFiles ?? []
            o.trustedCertificateDirectories = cfg.caDirectories ?? []
            o.systemTrustStore = cfg.systemCA ?? false
            o.checkHostName = cfg.checkHost ?? true
            o.pinnedCertificateFiles = cfg.pinnedCertificates ?? []
            o.verification =
                switch cfg.verify ?? .require {
                case .ignore: .ignore
                case .ifPresent: .verifyIfPresent
                case .require: .require
                }
            tls = o
        }
        return (p, t, tls)
    }
}

/// One of a job's peers: where to connect, and as whom (the destination, its Q/R SCP, a PACS
/// source).
struct Peer {
    var host: String
    var port: Int
    var callingAE: String
    var calledAE: String
    var user: Job.Destination.UserIdentitySetting?
    var tls: Job.Destination.TLS?
}

extension Job {
    var destinationPeer: Peer {
        Peer(
            host: destination.host, port: destination.port, callingAE: destination.callingAE,
            calledAE: destination.calledAE, user: destination.user, tls: destination.tls)
    }

    /// Where C-FINDs go (ferry verify, the check before a resend): the destination's Q/R SCP.
    var queryPeer: Peer {
        var peer = destinationPeer
        let q = queryAddress
        (peer.host, peer.port, peer.calledAE) = (q.host, q.port, q.calledAE)
        return peer
    }

    public var queryAddress: (host: String, port: Int, calledAE: String) {
        let q = destination.query
        return (q?.host ?? destination.host, q?.port ?? destination.port, q?.calledAE ?? destination.calledAE)
    }

    /// An association to the query address proposing Study Root C-FIND.
    func openQueryAssociation(logger: Logger) async throws -> Association {
        try await openAssociation(
            to: queryPeer, contexts: [Self.context(InformationModel.studyRoot.sopClass(.find))], logger: logger)
    }

    /// One SOP class in explicit and implicit VR little endian (a query, a storage commitment).
    static func context(_ abstractSyntax: String) -> PresentationContextProposal {
        PresentationContextProposal(
            id: 1, abstractSyntax: abstractSyntax,
            transferSyntaxes: [TransferSyntax.explicitVRLittleEndian.uid, TransferSyntax.implicitVRLittleEndian.uid])
    }

    /// An association to `peer` with the job's user identity, timeouts and TLS for it,
    /// proposing `contexts` (and `roles`).
    func openAssociation(
        to peer: Peer, contexts: [PresentationContextProposal], roles: [RoleSelection] = [], logger: Logger
    ) async throws -> Association {
        let connection = try connection(to: peer)
        var parameters = connection.parameters
        parameters.presentationContexts = contexts
        parameters.roleSelections = roles
        return try await Association.open(
            host: peer.host, port: peer.port, parameters: parameters, timeouts: connection.timeouts,
            tls: try connection.tls.map { try $0.client() }, logger: logger)
    }
}

extension Secret {
    /// A secret the job names by environment variable or file; nil when it names none.
    static func read(env: String?, file: String?, what: String) throws -> String? {
        do {
            if let env { return try fromEnvironment(env) }
            if let file { return try fromFile(file) }
        } catch {
            throw MigrationError.invalidJob("\(what): \(error)", underlying: error)
        }
        return nil
    }
}
