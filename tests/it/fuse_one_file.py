#!/usr/bin/env python3
"""A FUSE file system of one executable file, for tests: `fuse_one_file.py MOUNTPOINT FILE`.

Mounts MOUNTPOINT (root only: it opens /dev/fuse and calls mount(2) itself, no library),
serving FILE's bytes as MOUNTPOINT/exe, and prints `ready` once mounted. On SIGUSR1 it stops
answering: every request after that waits for ever, as on a hung network file system. Killed,
it closes /dev/fuse and the waiting requests fail (ENOTCONN); the caller unmounts.
"""
import ctypes, errno, os, signal, struct, sys

LOOKUP, FORGET, GETATTR, OPEN, READ, RELEASE, FLUSH, INIT, OPENDIR, RELEASEDIR = (
    1, 2, 3, 14, 15, 18, 25, 26, 27, 29)
BATCH_FORGET, INTERRUPT = 42, 36

mount_at, source = sys.argv[1], sys.argv[2]
data = open(source, "rb").read()
hung = False


def stop(*_):
    global hung
    hung = True


signal.signal(signal.SIGUSR1, stop)

fd = os.open("/dev/fuse", os.O_RDWR)
libc = ctypes.CDLL(None, use_errno=True)
options = f"fd={fd},rootmode=40000,user_id=0,group_id=0,allow_other".encode()
if libc.mount(b"stuckconn-test", mount_at.encode(), b"fuse", 0x2 | 0x4, options) != 0:
    sys.exit(f"mount: {os.strerror(ctypes.get_errno())}")


def attr(node):
    if node == 1:
        mode, size, nlink = 0o40755, 0, 2
    else:
        mode, size, nlink = 0o100755, len(data), 1
    return struct.pack("<QQQQQQIIIIIIIIII", node, size, (size + 511) // 512, 0, 0, 0,
                       0, 0, 0, mode, nlink, 0, 0, 0, 4096, 0)


def reply(unique, payload=b"", error=0):
    os.write(fd, struct.pack("<IiQ", 16 + len(payload), -error, unique) + payload)


print("ready", flush=True)
while True:
    try:
        request = os.read(fd, 1 << 20 | 4096)
    except InterruptedError:
        continue
    except OSError as err:
        if err.errno == errno.ENODEV:
            break
        raise
    length, opcode, unique, node = struct.unpack_from("<IIQQ", request)
    body = request[40:length]
    if hung or opcode in (FORGET, BATCH_FORGET, INTERRUPT):
        continue  # no answer
    if opcode == INIT:
        major, minor = struct.unpack_from("<II", body)
        reply(unique, struct.pack("<IIIIHHIIHHI", 7, 31, 0, 0, 16, 12, 1 << 16, 1, 0, 0, 0)
              + b"\0" * 28)
    elif opcode == LOOKUP:
        if node == 1 and body.rstrip(b"\0") == b"exe":
            reply(unique, struct.pack("<QQQQII", 2, 0, 3600, 3600, 0, 0) + attr(2))
        else:
            reply(unique, error=errno.ENOENT)
    elif opcode == GETATTR:
        reply(unique, struct.pack("<QII", 3600, 0, 0) + attr(node))
    elif opcode in (OPEN, OPENDIR):
        reply(unique, struct.pack("<QII", 0, 0, 0))
    elif opcode == READ:
        _, offset, size = struct.unpack_from("<QQI", body)
        reply(unique, data[offset:offset + size])
    elif opcode in (RELEASE, RELEASEDIR, FLUSH):
        reply(unique)
    else:
        reply(unique, error=errno.ENOSYS)
