package disk

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/unbrick/unbrick/internal/nbd"
)

// An NBD export has no file of ours to lock: two runs on one machine given
// the same export (even by two spellings of its socket path) meet at a lock
// file named after it instead, in LockDir. Runs on two machines, or given
// one server by two host names, are not kept apart: give each export to
// one run.

// LockDir is where locks for targets without a file of their own (NBD
// exports) are kept: /run/lock/unbrick where /run/lock exists (the Linux
// file system hierarchy's place for lock files), else the temporary
// directory's unbrick-locks.
func LockDir() string {
	if st, err := os.Stat("/run/lock"); err == nil && st.IsDir() {
		return "/run/lock/unbrick"
	}
	return filepath.Join(os.TempDir(), "unbrick-locks")
}

// nbdLockKey names an export for locking: its network, its address (a
// socket's absolute path with symlinks resolved; a host name lower-cased)
// and its export name.
func nbdLockKey(u *nbd.URI) string {
	addr := u.Address
	if u.Network == "unix" {
		if abs, err := filepath.Abs(addr); err == nil {
			addr = abs
		}
		if real, err := filepath.EvalSymlinks(addr); err == nil {
			addr = real
		}
	} else {
		addr = strings.ToLower(addr)
	}
	return u.Network + "\x00" + addr + "\x00" + u.Export
}

// lockNBD locks the lock file of the export key names.
func lockNBD(target, key string) (unlock func(), err error) {
	dir := LockDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("%s: cannot keep its lock in %s: %w", target, dir, err)
	}
	sum := sha256.Sum256([]byte(key))
	name := filepath.Join(dir, "nbd-"+hex.EncodeToString(sum[:12])+".lock")
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("%s: cannot open its lock file: %w", target, err)
	}
	if err := lockFile(f); err != nil {
		f.Close()
		return nil, lockErr(target, target, err)
	}
	return func() { unlockFile(f); f.Close() }, nil
}
