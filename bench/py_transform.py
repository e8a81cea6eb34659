#!/usr/bin/env python3
"""The Python way: rewrite every entry with zipfile, replace SetAid.ini and
sylink.xml, then hash the output. Usage: py_transform.py IN.zip SYLINK OUT.zip"""
import hashlib
import shutil
import sys
import zipfile

src, sylink, out = sys.argv[1:4]
managed = open(sylink, "rb").read()
with zipfile.ZipFile(src) as zin, zipfile.ZipFile(out, "w") as zout:
    for info in zin.infolist():
        name = info.filename.lower()
        if name.endswith("setaid.ini"):
            data = zin.read(info).replace(b"KeepPreviousSetting=1", b"KeepPreviousSetting=0")
            zout.writestr(info, data)
        elif name.endswith("sylink.xml"):
            zout.writestr(info, managed)
        else:
            with zin.open(info) as r, zout.open(info, "w", force_zip64=info.file_size > 2**31) as w:
                shutil.copyfileobj(r, w, 1 << 20)
h = hashlib.sha256()
with open(out, "rb") as f:
    while chunk := f.read(1 << 20):
        h.update(chunk)
print(h.hexdigest(), out)
