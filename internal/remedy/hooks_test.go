package remedy

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/unbrick/unbrick/bitlocker"
	"github.com/unbrick/unbrick/internal/disk"
	"github.com/unbrick/unbrick/internal/testcorpus"
)

// TestEngineHooks drives the wizard's engine hooks on a Windows-made
// BitLocker disk (the manifest, not our code, gives the volume GUID and the
// secret): a typed key scoped to another volume is not tried, the scoped
// key opens its volume with one stretch, the key cache lets the dry run and
// the fix open it with none (the fleet record still naming the typed key),
// Progress reports each step in order, and Select skips volumes unread.
func TestEngineHooks(t *testing.T) {
	v := oneVariant(t, "win10-xts128-recoverypw")
	img := testcorpus.Disk(t, v.name)
	guid := v.osVolume()["bitlocker"].(map[string]any)["volume_identifier"].(string)
	_, secret := v.unlock()
	cache := NewKeyCache()
	typed := []TypedKey{
		// Scoped to another volume: must not cost a stretch here.
		{Key: bitlocker.RecoveryPassword("000011-000022-000033-000044-000055-000066-000077-000088"), Source: "other volume's key", VolumeGUID: "{00000000-1111-2222-3333-444444444444}"},
		{Key: bitlocker.RecoveryPassword(secret), Source: "typed for this volume", VolumeGUID: "{" + strings.ToLower(guid) + "}"},
	}
	scan := volumeOf(t, Scan(context.Background(), []string{img}, Options{Keys: KeyOptions{Typed: typed, Cache: cache}}), v)
	if scan.Status != StatusScanned || scan.BitLocker == nil || !scan.BitLocker.Unlocked {
		t.Fatalf("scan: %s %q", scan.Status, scan.Error)
	}
	if scan.KeyDerivations != 1 || scan.BitLocker.KeySource != "typed for this volume" {
		t.Fatalf("scan: %d stretches, key source %q; want 1 and the scoped key", scan.KeyDerivations, scan.BitLocker.KeySource)
	}
	if !cache.Has(guid) || !cache.Has("{"+strings.ToLower(guid)+"}") || cache.Len() != 1 {
		t.Fatalf("cache holds %d volumes, has %s: %v", cache.Len(), guid, cache.Has(guid))
	}
	for _, s := range []string{fmt.Sprint(cache), fmt.Sprintf("%+v", cache), fmt.Sprintf("%#v", cache)} {
		if s != "remedy.KeyCache(1 volumes, keys redacted)" {
			t.Fatalf("cache formats as %q", s)
		}
	}

	// Dry run and fix with the cache only: no key given, no stretch.
	var mu sync.Mutex
	var steps []string
	progress := func(vol *Volume, s Step) {
		mu.Lock()
		defer mu.Unlock()
		if vol.Partition == v.osPartition() {
			steps = append(steps, string(s))
		}
	}
	o := Options{Keys: KeyOptions{Cache: cache}, Fix: FixOptions{DryRun: true, JournalDir: filepath.Join(t.TempDir(), "journal")}, Hooks: Hooks{Progress: progress}}
	dry := volumeOf(t, Fix(context.Background(), []string{img}, o), v)
	if dry.Status != StatusDryRun || dry.KeyDerivations != 0 {
		t.Fatalf("dry run: %s %q, %d stretches", dry.Status, dry.Error, dry.KeyDerivations)
	}
	if fileSHA256(t, img) != v.sha256() {
		t.Fatal("the dry run changed the image")
	}
	if got := strings.Join(steps, ","); got != "unlock,evaluate,plan,done" {
		t.Errorf("dry run steps %s", got)
	}
	steps = nil
	o.Fix.DryRun = false
	var logged *Volume
	o.Hooks.Log = func(vol *Volume) error { logged = vol; return nil }
	vols := Fix(context.Background(), []string{img}, o)
	vol := volumeOf(t, vols, v)
	if vol.Status != StatusRemediated || vol.KeyDerivations != 0 {
		t.Fatalf("fix: %s %q, %d stretches", vol.Status, vol.Error, vol.KeyDerivations)
	}
	if got := strings.Join(steps, ","); got != "unlock,evaluate,plan,journal,write,verify,done" {
		t.Errorf("fix steps %s", got)
	}
	r := logged.FleetRecord(&o)
	if r.KeySource != "typed for this volume" || r.RecoveryKeyID != v.protectorIDs()[0] || r.UnlockMethod != "recovery password" {
		t.Errorf("record: key source %q, recovery key ID %q, method %q", r.KeySource, r.RecoveryKeyID, r.UnlockMethod)
	}
	leakCheck(t, []string{secret}, vols, vol.JournalFile)

	// Select: the OS volume rejected is not even opened; the other
	// partitions still are.
	var asked []int
	sel := func(target string, partition int) bool {
		if target != img {
			t.Errorf("Select asked about %q", target)
		}
		asked = append(asked, partition)
		return partition != v.osPartition()
	}
	others := Scan(context.Background(), []string{img}, Options{Hooks: Hooks{Select: sel}, Keys: KeyOptions{Typed: typed}})
	for _, o := range others {
		if o.Partition == v.osPartition() {
			t.Fatalf("a volume Select rejected was reported: %+v", o)
		}
		if o.KeyDerivations != 0 {
			t.Fatalf("partition %d cost %d stretches", o.Partition, o.KeyDerivations)
		}
	}
	found := false
	for _, p := range asked {
		found = found || p == v.osPartition()
	}
	if !found {
		t.Fatalf("Select was never asked about partition %d (asked %v)", v.osPartition(), asked)
	}

	// Forget drops the key: with only the other volume's key the volume
	// stays locked, at no stretch.
	cache.Forget(guid)
	if cache.Has(guid) {
		t.Fatal("Forget kept the key")
	}
	locked := volumeOf(t, Scan(context.Background(), []string{img}, Options{Keys: KeyOptions{Cache: cache, Typed: typed[:1]}}), v)
	if locked.Status != StatusLocked || locked.KeyDerivations != 0 {
		t.Fatalf("without a key: %s, %d stretches", locked.Status, locked.KeyDerivations)
	}
}

// Two volumes sharing a GUID but not their keys (a cloned disk
// re-protected, say): the cache's key of one does not open the other, the
// other's own key does (one stretch) and joins the cache, and a later call
// opens both from the cache, each reporting its own key source. The
// foreign key comes from another Windows-made corpus volume (the BEK one).
func TestKeyCacheSharedGUID(t *testing.T) {
	v := oneVariant(t, "win10-xts128-recoverypw")
	guid := v.osVolume()["bitlocker"].(map[string]any)["volume_identifier"].(string)
	bekVar := oneVariant(t, "win10-xts128-bek-startupkey")
	bekImg := testcorpus.Disk(t, bekVar.name)
	tg, err := disk.OpenTarget(bekImg, false)
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	c, err := tg.Select(bekVar.osPartition())
	if err != nil {
		t.Fatal(err)
	}
	sec := tg.Section(c)
	bl, err := bitlocker.Open(sec, sec.Size())
	if err != nil {
		t.Fatal(err)
	}
	bekKeys, _ := typedKeys(t, bekVar)
	if err := bl.Unlock(bekKeys[0].Key); err != nil {
		t.Fatal(err)
	}
	cache := NewKeyCache()
	cache.add(guid, bl, "the other disk's BEK", "typed")

	img := testcorpus.Disk(t, v.name)
	typed, _ := typedKeys(t, v)
	scan := volumeOf(t, Scan(context.Background(), []string{img}, Options{Keys: KeyOptions{Typed: typed, Cache: cache}}), v)
	if !scan.BitLocker.Unlocked || scan.KeyDerivations != 1 || scan.BitLocker.KeySource != "--recovery-password" {
		t.Fatalf("scan: unlocked %v, %d stretches, source %q (%s)", scan.BitLocker.Unlocked, scan.KeyDerivations, scan.BitLocker.KeySource, scan.Error)
	}
	again := volumeOf(t, Scan(context.Background(), []string{img}, Options{Keys: KeyOptions{Cache: cache}}), v)
	if !again.BitLocker.Unlocked || again.KeyDerivations != 0 || again.BitLocker.KeySource != "--recovery-password" {
		t.Fatalf("cached: unlocked %v, %d stretches, source %q", again.BitLocker.Unlocked, again.KeyDerivations, again.BitLocker.KeySource)
	}
	if cache.Len() != 1 || len(cache.get(guid)) != 2 {
		t.Fatalf("cache: %d volumes, %d keys for %s", cache.Len(), len(cache.get(guid)), guid)
	}
}
