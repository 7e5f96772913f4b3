#!/usr/bin/env python3
"""Asks a Flume avro source for its handshake answers, to capture protocol fixtures.

    handshake_probe.py PORT PROTOCOL_JSON OUT_DIR

Sends appendBatch (no events) first with a client hash the server does not know and no
protocol (the answer: NONE, with the server's protocol), then with the protocol text and a
wrong guess of the server's hash (the answer: CLIENT, then the call's reply). Writes each
request and response frame to OUT_DIR.
"""
import socket, struct, hashlib, sys
port, protocol_json, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
def frame(serial, bufs):
    return struct.pack(">II", serial, len(bufs)) + b"".join(struct.pack(">I", len(b)) + b for b in bufs)
def read_frame(s):
    def rd(n):
        b=b""
        while len(b)<n:
            c=s.recv(n-len(b))
            if not c: raise EOFError("closed")
            b+=c
        return b
    serial,count=struct.unpack(">II", rd(8))
    bufs=[]
    for _ in range(count):
        (l,)=struct.unpack(">I", rd(4)); bufs.append(rd(l))
    return serial,bufs
def zz(n):
    n=(n<<1)^(n>>63); out=b""
    while True:
        b=n&0x7f; n>>=7
        if n: out+=bytes([b|0x80])
        else: return out+bytes([b])
def string(s): return zz(len(s))+s
unknown=b"\x11"*16
proto=open(protocol_json,"rb").read()
h=hashlib.md5(proto).digest()
s=socket.create_connection(("127.0.0.1",port))
req=unknown+b"\x00"+unknown+b"\x00"+b"\x00"+string(b"appendBatch")
raw=frame(1,[req, b"\x00"])
open(out+"/unknown-hash.request","wb").write(raw)
s.sendall(raw)
serial,bufs=read_frame(s)
open(out+"/unknown-hash.response","wb").write(frame(serial,bufs))
resp=b"".join(bufs)
print("resp1", serial, [len(b) for b in bufs], resp[:8].hex(), len(resp))
req=h+b"\x02"+string(proto)+unknown+b"\x00"+b"\x00"+string(b"appendBatch")
raw=frame(2,[req, b"\x00"])
open(out+"/client-protocol.request","wb").write(raw)
s.sendall(raw)
serial,bufs=read_frame(s)
open(out+"/client-protocol.response","wb").write(frame(serial,bufs))
resp=b"".join(bufs)
print("resp2", serial, [len(b) for b in bufs], resp[:4].hex(), resp[-40:].hex(), len(resp))
