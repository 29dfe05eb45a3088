import ArgumentParser
import CMalloc
import FerryCodecs
import Glibc
import NIOCore
import NIOPosix

/// Entry point: the DCMTK-compatible tools (`storescu`, `echo`) parse DCMTK's `+`/`-` options
/// with their own parser; every other command goes through swift-argument-parser.
@main
enum Main {
    static let dcmtkTools: [String: @Sendable ([String]) async -> Int32] = [
        "storescu": StoreSCUTool.run,
        "echo": EchoTool.run,
        "storescp": StoreSCPTool.run,
        "qrscp": QRSCPTool.run,
        "findscu": FindSCUTool.run,
        "movescu": RetrieveTool.move,
        "getscu": RetrieveTool.get,
    ]

    static func main() async {
        // Tasks run on NIO's event loops: a send loop then writes to its socket without a
        // thread hop per buffer (about a quarter off `ferry storescu`'s wall time on loopback).
        _ = NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
        ferry_tune_malloc()
        let args = CommandLine.arguments
        // A decoder process (see DecoderProcesses): serves its parent until the pipe closes.
        // `--abort-on UID` is for the test of a decoder process that dies.
        if args.count > 1, args[1] == "codec-worker" {
            let abortOn = args.count > 3 && args[2] == "--abort-on" ? args[3] : nil
            exit(DecodeWorker.serve(memoryLimit: 8 << 30, abortOn: abortOn))
        }
        DecoderProcesses.shared.withLock {
            $0 = DecoderProcesses(.init(executable: "/proc/self/exe", arguments: ["codec-worker"]))
        }
        if args.count > 1, let tool = dcmtkTools[args[1]] {
            exit(await tool(Array(args.dropFirst(2))))
        }
        await Ferry.main()
    }
}

struct Ferry: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ferry",
        abstract: "Bulk DICOM transfer and archive migration.",
        discussion: """
            DCMTK-compatible network tools (DCMTK's option syntax, see their --help):
              ferry storescu [options] peer port dcmfile-in...   C-STORE SCU (DCMTK storescu)
              ferry echo [options] peer port                     C-ECHO SCU (DCMTK echoscu)
              ferry storescp [options] port                      Storage SCP (DCMTK storescp)
              ferry qrscp [options] [port]                       Q/R SCP and archive (DCMTK dcmqrscp)
              ferry findscu [options] peer port [dcmfile-in...]  C-FIND SCU (DCMTK findscu)
              ferry movescu [options] peer port [dcmfile-in...]  C-MOVE SCU (DCMTK movescu)
              ferry getscu [options] peer port [dcmfile-in...]   C-GET SCU (DCMTK getscu)
            """,
        version: FerryVersion.string,
        subcommands: [
            Plan.self, Run.self, Verify.self, Status.self, Report.self, Transcode.self, Dump.self, Scan.self,
            Sample.self,
        ]
    )
}
