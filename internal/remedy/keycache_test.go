package remedy

import (
	"fmt"
	"testing"

	"github.com/unbrick/unbrick/bitlocker"
)

// TestKeyCacheBounded: a cache over many distinct volumes keeps keys for
// MaxKeyCacheVolumes of them, dropping the least recently used (a volume
// read since it was added stays), and at most maxKeysPerVolume keys for
// one volume, the newest.
func TestKeyCacheBounded(t *testing.T) {
	c := NewKeyCache()
	guid := func(i int) string { return fmt.Sprintf("{%08X-0000-0000-0000-000000000000}", i) }
	key := bitlocker.RecoveryPassword("000011-000022-000033-000044-000055-000066-000077-000088")
	c.addKey(guid(0), key, "first", "typed")
	for i := 1; i < 3*MaxKeyCacheVolumes; i++ {
		c.addKey(guid(i), key, "typed", "typed")
		c.get(guid(0)) // volume 0 is in use all along
	}
	if c.Len() != MaxKeyCacheVolumes {
		t.Fatalf("cache holds %d volumes, want at most %d", c.Len(), MaxKeyCacheVolumes)
	}
	if !c.Has(guid(0)) || c.get(guid(0))[0].source != "first" {
		t.Error("the volume used all along was dropped")
	}
	if c.Has(guid(1)) || !c.Has(guid(3*MaxKeyCacheVolumes-1)) {
		t.Error("not the least recently used volumes were dropped")
	}
	for i := 0; i < 3*maxKeysPerVolume; i++ {
		c.addKey(guid(7), key, fmt.Sprint("key ", i), "typed")
	}
	ks := c.get(guid(7))
	if len(ks) != maxKeysPerVolume || ks[len(ks)-1].source != fmt.Sprint("key ", 3*maxKeysPerVolume-1) {
		t.Fatalf("one volume holds %d keys (newest %q), want the %d newest", len(ks), ks[len(ks)-1].source, maxKeysPerVolume)
	}
}
