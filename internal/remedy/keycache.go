package remedy

import (
	"strconv"
	"strings"
	"sync"

	"github.com/unbrick/unbrick/bitlocker"
)

// KeyCache remembers, for the life of one process, the unwrapped key of
// every BitLocker volume the engine unlocked, so that a later Scan, dry run
// or Fix given the same cache (KeyOptions.Cache) opens the volume again
// without a second 2^20-round stretch. The wizard keeps one for its whole
// run: scan, key dialog, preview and fix derive each key once.
//
// Entries are keyed by BitLocker volume GUID and hold the key from
// (*bitlocker.Volume).ReuseKey, which never prints its secret, plus the
// report fields of the key that first opened the volume (its source and
// how it was matched), so fleet records still name the original key
// source. Nothing in a KeyCache is ever logged or written: it has no
// exported fields and formats as a count only. One GUID may hold several
// keys (two disks whose volumes share a GUID but not their keys): each is
// tried, a wrong one costs an AES-CCM check, not a stretch; when none opens
// the volume the usual keys are tried next, and the one that opens it is
// added.
//
// A KeyCache is safe for concurrent use (Options.Parallel > 1). The zero
// value is not usable: call NewKeyCache.
type KeyCache struct {
	mu sync.Mutex
	m  map[string][]cachedKey
}

type cachedKey struct {
	key    bitlocker.Key // a reuse key: no stretch
	source string        // KeySource of the key that first opened the volume
	match  KeyMatch      // how it was matched
}

// NewKeyCache returns an empty cache.
func NewKeyCache() *KeyCache { return &KeyCache{m: map[string][]cachedKey{}} }

// normGUID upper-cases a GUID and drops its braces.
func normGUID(s string) string {
	return strings.ToUpper(strings.Trim(strings.TrimSpace(s), "{}"))
}

// Has reports whether the cache holds a key for the BitLocker volume with
// this GUID (braces and case ignored).
func (c *KeyCache) Has(volumeGUID string) bool {
	if c == nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m[normGUID(volumeGUID)]) > 0
}

// Len is the number of volumes the cache holds a key for.
func (c *KeyCache) Len() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}

// Forget drops the keys of one volume (braces and case ignored).
func (c *KeyCache) Forget(volumeGUID string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, normGUID(volumeGUID))
}

// String never shows a key: only how many volumes the cache holds.
func (c *KeyCache) String() string {
	return "remedy.KeyCache(" + strconv.Itoa(c.Len()) + " volumes, keys redacted)"
}

// GoString is String, so %#v cannot print a key either.
func (c *KeyCache) GoString() string { return c.String() }

// get returns the cached keys of a volume, oldest first.
func (c *KeyCache) get(volumeGUID string) []cachedKey {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]cachedKey(nil), c.m[normGUID(volumeGUID)]...)
}

// add stores the reuse key of a volume that a key from outside the cache
// just unlocked.
func (c *KeyCache) add(volumeGUID string, bl *bitlocker.Volume, source string, match KeyMatch) {
	if c == nil || volumeGUID == "" {
		return
	}
	k := bl.ReuseKey()
	if k == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	g := normGUID(volumeGUID)
	c.m[g] = append(c.m[g], cachedKey{key: k, source: source, match: match})
}
