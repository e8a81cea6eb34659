/*
 * A stand-in bcryptprimitives.dll for running sepkg.exe under Wine 8.
 *
 * Rust's std (1.78 and later) imports ProcessPrng from bcryptprimitives.dll
 * for its random numbers (HashMap keys, tempfile names). Windows 10 and later
 * ship that DLL; Wine 8 does not, so sepkg.exe fails to start there. This
 * DLL exports ProcessPrng and fills the buffer from RtlGenRandom
 * (advapi32's SystemFunction036), which Wine has. The smoke suite
 * (.ci/windows/smoke.sh) builds it with mingw and puts it beside sepkg.exe,
 * never on a real Windows machine; no binary of it is committed.
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

/* Documented to always return TRUE on Windows; it reports a failure here. */
BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
    while (length > 0) {
        ULONG chunk = length > 0x40000000 ? 0x40000000 : (ULONG)length;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}
