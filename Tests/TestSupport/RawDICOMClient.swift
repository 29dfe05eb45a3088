/// Python helpers for the tests' raw DICOM clients (a scripted peer for what real ones cannot
/// do: a burst of requests in one write, a cancel in the same segment as its request): PS3.8
/// items and PDVs, PS3.5 implicit VR elements, and reading whole PDUs from the socket `s`.
/// A client's script starts with these, then opens `s`.
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

        """#
}
