/*
 * bcryptprimitives.dll stand-in for Wine 8 (Debian 12's wine64).
 *
 * Why: the Go runtime (Go 1.22 and later) loads bcryptprimitives.dll at
 * start-up and calls its ProcessPrng export for random bytes. Microsoft
 * Learn ("ProcessPrng function") documents ProcessPrng as the user-mode
 * PRNG of Windows 10 and later. Wine 8.0 ships a bcryptprimitives.dll
 * without that export, so every Go program for windows/amd64 stops at
 * start under it. This DLL, placed in the Wine prefix's system32, exports
 * ProcessPrng only and fills the buffer with RtlGenRandom (advapi32's
 * SystemFunction036, Microsoft Learn "RtlGenRandom function"), which Wine
 * implements. It is a test helper for scripts/ci-windows.sh, never part of
 * unbrick.exe; real Windows has its own ProcessPrng.
 */
#include <windows.h>
#include <ntsecapi.h>

/* RtlGenRandom takes a ULONG length: hand it at most this much at once. */
#define CHUNK ((SIZE_T)0x7fffffff)

BOOL WINAPI ProcessPrng(PBYTE out, SIZE_T len)
{
	while (len > 0) {
		ULONG n = (ULONG)(len < CHUNK ? len : CHUNK);
		if (!RtlGenRandom(out, n))
			return FALSE;
		out += n;
		len -= n;
	}
	return TRUE;
}
