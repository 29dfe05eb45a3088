/// Python helpers for the tests' raw DICOM clients (a scripted peer for what real ones cannot
/// do: a burst of requests in one write, a cancel in the same segment as its request): PS3.8
/// items and PDVs, PS3.5 implicit VR elements, command sets, reading whole PDUs from the socket
/// `s`, and an association request of one context (`associate`, which opens `s`).
public enum RawDICOMClient {
    public static let helpers = #"""
        import json, socket, struct, sys
        def uid(b): return b + b"\0" if len(b) % 2 else b
        def item(t, body): return bytes([t, 0]) + struct.pack(">H", len(body)) + body
        def el(g, e, v): return struct.pack("<HHI", g, e, len(v)) + v
        def pdv(flags, body): return bytes([4, 0]) + struct.pack(">II", len(body) + 6, len(body) + 2) + bytes([1, flags]) + body
        def recv_exact(n):
            b = b""
            while len(b) < n:
                c = s.recv(n - len(b))
                if not c: raise EOFError("closed")
                b += c
            return b
        def read_pdu():
            h = recv_exact(6); return h[0], recv_exact(struct.unpack(">I", h[2:6])[0])
        def command(fields): body = b"".join(fields); return el(0, 0, struct.pack("<I", len(body))) + body
        def associate(port, called, calling, sop, timeout=60):
            """Opens `s` and requests one context (`sop`, implicit VR LE); the answer's PDU type."""
            global s
            s = socket.create_connection(("127.0.0.1", port)); s.settimeout(timeout)
            rq = struct.pack(">HH", 1, 0) + called.ljust(16) + calling.ljust(16) + bytes(32)
            rq += item(0x10, b"1.2.840.10008.3.1.1.1")
            rq += item(0x20, bytes([1, 0, 0, 0]) + item(0x30, sop) + item(0x40, b"1.2.840.10008.1.2"))
            rq += item(0x50, item(0x51, struct.pack(">I", 16384)) + item(0x52, b"1.2.3.4"))
            s.sendall(bytes([1, 0]) + struct.pack(">I", len(rq)) + rq)
            return read_pdu()[0]

        """#
}
