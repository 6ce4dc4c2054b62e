package remedy

import (
	"slices"
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
// A KeyCache holds keys for at most MaxKeyCacheVolumes volumes, and at
// most 8 keys for one: adding past either drops the keys of the volume
// least recently used, or the volume's oldest key. Clones of a
// template share a GUID, so a run over thousands of clones of a few
// templates keeps every key it reuses, while a run over thousands of
// distinct volumes (each key used once) does not keep thousands of keys
// in memory.
//
// A KeyCache is safe for concurrent use (Options.Parallel > 1). The zero
// value is not usable: call NewKeyCache.
type KeyCache struct {
	mu   sync.Mutex
	m    map[string]*cacheEntry
	tick uint64 // bumped on every use, for least-recently-used eviction
}

// MaxKeyCacheVolumes is how many BitLocker volumes (GUIDs) a KeyCache
// holds keys for.
const MaxKeyCacheVolumes = 256

// maxKeysPerVolume is how many keys a KeyCache holds for one GUID (cloned
// volumes re-protected with keys of their own; two workers that missed
// the cache at once add one each).
const maxKeysPerVolume = 8

type cacheEntry struct {
	keys []cachedKey // oldest first
	used uint64      // KeyCache.tick when last read or added to
}

type cachedKey struct {
	key    bitlocker.Key // a reuse key: no stretch
	source string        // KeySource of the key that first opened the volume
	match  KeyMatch      // how it was matched
}

// NewKeyCache returns an empty cache.
func NewKeyCache() *KeyCache { return &KeyCache{m: map[string]*cacheEntry{}} }

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
	e := c.m[normGUID(volumeGUID)]
	return e != nil && len(e.keys) > 0
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
	e := c.m[normGUID(volumeGUID)]
	if e == nil {
		return nil
	}
	c.tick++
	e.used = c.tick
	return append([]cachedKey(nil), e.keys...)
}

// add stores the reuse key of a volume that a key from outside the cache
// just unlocked.
func (c *KeyCache) add(volumeGUID string, bl *bitlocker.Volume, source string, match KeyMatch) {
	if c == nil || volumeGUID == "" {
		return
	}
	if k := bl.ReuseKey(); k != nil {
		c.addKey(volumeGUID, k, source, match)
	}
}

// addKey stores a key (a reuse key: no stretch) for the volume with this
// GUID.
func (c *KeyCache) addKey(volumeGUID string, k bitlocker.Key, source string, match KeyMatch) {
	c.mu.Lock()
	defer c.mu.Unlock()
	g := normGUID(volumeGUID)
	e := c.m[g]
	if e == nil {
		if len(c.m) >= MaxKeyCacheVolumes {
			c.evict()
		}
		e = &cacheEntry{}
		c.m[g] = e
	}
	if len(e.keys) >= maxKeysPerVolume {
		e.keys = slices.Delete(e.keys, 0, 1)
	}
	e.keys = append(e.keys, cachedKey{key: k, source: source, match: match})
	c.tick++
	e.used = c.tick
}

// evict drops the keys of the least recently used volume (c.mu held).
// It runs only when a key from outside the cache opened a volume, after
// the stretch that cost, so a scan of the map is nothing beside it.
func (c *KeyCache) evict() {
	var oldest string
	var at uint64
	first := true
	for g, e := range c.m {
		if first || e.used < at {
			oldest, at, first = g, e.used, false
		}
	}
	delete(c.m, oldest)
}
