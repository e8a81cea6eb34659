#!/usr/bin/env python3
"""Generate a synthetic SEP client package folder for the benchmark.

Seeded PRNG, so every run builds the same bytes and figures are comparable.
Usage: gen.py DIR MSI_MB SEED
"""
import os
import random
import sys

CHUNK = 1 << 20


def write_random(path, size, rng):
    with open(path, "wb") as f:
        left = size
        while left:
            n = min(CHUNK, left)
            f.write(rng.randbytes(n))
            left -= n


def write_text(path, size, rng, words):
    # Compressible, like the DLL resources and INF/XML files of a real export.
    parts, n = [], 0
    while n < size:
        w = words[rng.randrange(len(words))]
        parts.append(w)
        n += len(w) + 1
    with open(path, "wb") as f:
        f.write(" ".join(parts).encode()[:size])


def main():
    top, msi_mb, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    rng = random.Random(seed)
    words = [
        "Symantec", "Endpoint", "Protection", "client", "install", "0x0000",
        "HKLM", "SOFTWARE", "Services", "\r\n", "<Component", "Id=", "/>",
        "KeepPreviousSetting", "sylink", "feature", "PTPMain", "SAVMain",
    ]
    os.makedirs(os.path.join(top, "Bin"), exist_ok=True)
    # The MSI: incompressible, as real MSIs (CAB streams inside) nearly are.
    write_random(os.path.join(top, "Sep64.msi"), msi_mb << 20, rng)
    # A few MB of setup files: half random (executables), half text.
    write_random(os.path.join(top, "Setup.exe"), 3 << 20, rng)
    write_random(os.path.join(top, "SepRemote.dll"), 1 << 20, rng)
    write_text(os.path.join(top, "SetupRes.xml"), 2 << 20, rng, words)
    with open(os.path.join(top, "setup.ini"), "wb") as f:
        f.write(b"[Startup]\r\nProductVersion=14.3.8289.5000\r\n")
    # A hundred small files, mixed.
    for i in range(100):
        size = rng.randrange(1 << 10, 64 << 10)
        path = os.path.join(top, "Bin", "file%03d.%s" % (i, "dat" if i % 3 == 0 else "txt"))
        if i % 3 == 0:
            write_random(path, size, rng)
        else:
            write_text(path, size, rng, words)
    with open(os.path.join(top, "setAid.ini"), "wb") as f:
        f.write(b"[CUSTOM_SMC_CONFIG]\r\nKeepPreviousSetting=1\r\n")
    with open(os.path.join(top, "sylink.xml"), "wb") as f:
        f.write(
            b'<?xml version="1.0" encoding="UTF-8"?>\r\n'
            b'<ServerSettings NameSpace="rpc">\r\n  <CommConf>\r\n'
            b'    <AgentCommunicationSetting AlwaysConnect="1" CommunicationMode="PULL" PullHeartbeatSeconds="300"/>\r\n'
            b"  </CommConf>\r\n</ServerSettings>\r\n"
        )


if __name__ == "__main__":
    main()
