package bitlocker

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/unbrick/unbrick/internal/testcorpus"
)

// corpusPassword opens every password protector of the corpus volumes
// (../shared/corpus/README.md); corpusRecoveryPassword (stretch_test.go)
// every recovery password protector.
const corpusPassword = "password12!@"

// source is one raw source volume of the corpus (manifest "sources").
type source struct {
	name    string // "aes_128.bin"
	path    string // decompressed copy
	m       map[string]any
	dislock bool // dislocker 0.7.3 can open it (manifest "checked_here")
}

// corpusSources decompresses the source volumes named in only (all of them
// when only is empty) into the test's temporary directory.
func corpusSources(t *testing.T, only ...string) []*source {
	t.Helper()
	man := testcorpus.LoadManifest(t)
	want := map[string]bool{}
	for _, n := range only {
		want[n] = true
	}
	var out []*source
	for _, s := range man.Sources {
		file, _ := s["file"].(string)
		name, _ := s["name"].(string)
		checked, _ := s["checked_here"].(string)
		if len(only) > 0 && !want[name] {
			continue
		}
		out = append(out, &source{
			name:    name,
			path:    testcorpus.Decompress(t, file),
			m:       s,
			dislock: strings.HasPrefix(checked, "dislocker-fuse -r unlocks it"),
		})
	}
	if len(only) == 0 && len(out) < 10 {
		t.Fatalf("manifest lists %d source volumes, expected at least 10", len(out))
	}
	if len(only) > 0 && len(out) != len(only) {
		t.Fatalf("manifest lacks some of the source volumes %v", only)
	}
	return out
}

func openFile(t *testing.T, path string, writable bool) (*os.File, int64) {
	t.Helper()
	flag := os.O_RDONLY
	if writable {
		flag = os.O_RDWR
	}
	f, err := os.OpenFile(path, flag, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	return f, st.Size()
}

// keyFor returns the secret the corpus documents for one protector.
func keyFor(t *testing.T, p map[string]any, s *source) Key {
	t.Helper()
	switch p["type"] {
	case "recovery_password":
		return RecoveryPassword(corpusRecoveryPassword)
	case "password":
		return Password(corpusPassword)
	case "clear_key":
		return ClearKey()
	case "external_key":
		u, _ := s.m["unlock"].(map[string]any)
		bek, _ := u["bek_file"].(string)
		b, err := os.ReadFile(testcorpus.Path(t, bek))
		if err != nil {
			t.Fatal(err)
		}
		return BEK(b)
	}
	t.Fatalf("%s: protector type %v has no documented secret", s.name, p["type"])
	return nil
}

// primaryKey is the unlock method the manifest names for the source.
func primaryKey(t *testing.T, s *source) Key {
	u, _ := s.m["unlock"].(map[string]any)
	switch u["method"] {
	case "password":
		return Password(u["secret"].(string))
	case "recovery_password":
		return RecoveryPassword(u["secret"].(string))
	case "clear_key":
		return ClearKey()
	case "bek":
		b, err := os.ReadFile(testcorpus.Path(t, u["bek_file"].(string)))
		if err != nil {
			t.Fatal(err)
		}
		return BEK(b)
	case "none":
		return nil
	}
	t.Fatalf("%s: unknown unlock method %v", s.name, u["method"])
	return nil
}

var reuseKeys sync.Map // source path -> Key (skips repeated 2^20 stretches)

// unlocked opens s and unlocks it with its primary key (once per test
// binary; later calls reuse the key).
func unlocked(t *testing.T, s *source, writable bool) *Volume {
	t.Helper()
	f, size := openFile(t, s.path, writable)
	v, err := Open(f, size)
	if err != nil {
		t.Fatalf("%s: Open: %v", s.name, err)
	}
	if k, ok := reuseKeys.Load(s.path); ok {
		if err := v.Unlock(k.(Key)); err != nil {
			t.Fatalf("%s: unlock with reuse key: %v", s.name, err)
		}
		return v
	}
	if k := primaryKey(t, s); k != nil {
		if err := v.Unlock(k); err != nil {
			t.Fatalf("%s: Unlock(%s): %v", s.name, k.Kind(), err)
		}
	}
	if rk := v.ReuseKey(); rk != nil {
		reuseKeys.Store(s.path, rk)
	}
	return v
}

func checkDecryptedView(t *testing.T, name string, v *Volume) {
	t.Helper()
	buf := make([]byte, 0x2000+512)
	if _, err := v.ReadAt(buf, 0); err != nil {
		t.Fatalf("%s: ReadAt: %v", name, err)
	}
	if got := string(buf[3:11]); got != "NTFS    " {
		t.Errorf("%s: sector 0 OEM %q, want NTFS boot sector", name, got)
	}
	if got := buf[0x2000:0x2008]; !bytes.Equal(got, []byte("FILE0\x00\x03\x00")) {
		t.Errorf("%s: bytes at 0x2000 are %x, want FILE0", name, got)
	}
}

// TestCorpusSources checks every raw source volume against the facts in the
// manifest, unlocks it with every protector it has, and checks the
// decrypted view (NTFS boot sector, FILE0 at 0x2000).
func TestCorpusSources(t *testing.T) {
	for _, s := range corpusSources(t) {
		t.Run(s.name, func(t *testing.T) {
			f, size := openFile(t, s.path, false)
			v, err := Open(f, size)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			in := v.Info()
			if bl, ok := s.m["bitlocker"].(map[string]any); ok {
				checkManifestInfo(t, in, bl)
				for _, p := range bl["key_protectors"].([]any) {
					pm := p.(map[string]any)
					v2, err := Open(f, size)
					if err != nil {
						t.Fatal(err)
					}
					k := keyFor(t, pm, s)
					if err := v2.Unlock(k); err != nil {
						t.Errorf("protector %v %v: %v", pm["type"], pm["id"], err)
						continue
					}
					if id, _ := v2.UnlockedBy(); id != pm["id"] {
						t.Errorf("unlocked by %q, want protector %v", id, pm["id"])
					}
					checkDecryptedView(t, s.name+" via "+string(k.Kind()), v2)
				}
			} else {
				// decrypted.bin and eow_partial.bin: no bitlocker facts in
				// the manifest, only the unlock secret and the view.
				if k := primaryKey(t, s); k != nil {
					if err := v.Unlock(k); err != nil {
						t.Fatalf("Unlock: %v", err)
					}
				} else if v.Locked() {
					t.Fatalf("volume with unlock method none is locked (state %s)", in.State)
				}
				checkDecryptedView(t, s.name, v)
			}
		})
	}
}

func checkManifestInfo(t *testing.T, in *Info, bl map[string]any) {
	t.Helper()
	num := func(k string) int64 { f, _ := bl[k].(float64); return int64(f) }
	if in.Version != int(num("version")) {
		t.Errorf("version %d, manifest %v", in.Version, bl["version"])
	}
	if in.MethodCode != bl["encryption_code"] {
		t.Errorf("method %s, manifest %v", in.MethodCode, bl["encryption_code"])
	}
	if want := fmt.Sprintf("%s (%d)", strings.ToUpper(string(in.State)), in.CurrentState); want != bl["state"] {
		t.Errorf("state %q, manifest %v", want, bl["state"])
	}
	if in.VolumeGUID != bl["volume_identifier"] {
		t.Errorf("volume GUID %s, manifest %v", in.VolumeGUID, bl["volume_identifier"])
	}
	if in.Description != bl["description"] {
		t.Errorf("description %q, manifest %v", in.Description, bl["description"])
	}
	if in.EncryptedSize != num("encrypted_volume_size") || in.Size != num("encrypted_volume_size") {
		t.Errorf("encrypted size %d, size %d, manifest %v", in.EncryptedSize, in.Size, bl["encrypted_volume_size"])
	}
	if in.MetadataSize != num("metadata_block_size") || in.BootSectorsAt != num("boot_sectors_backup") {
		t.Errorf("metadata block size %d / boot sectors at %d, manifest %v / %v", in.MetadataSize, in.BootSectorsAt, bl["metadata_block_size"], bl["boot_sectors_backup"])
	}
	for i, o := range bl["metadata_offsets"].([]any) {
		if i >= len(in.MetadataOffsets) || in.MetadataOffsets[i] != int64(o.(float64)) {
			t.Errorf("metadata offsets %v, manifest %v", in.MetadataOffsets, bl["metadata_offsets"])
			break
		}
	}
	want := bl["key_protectors"].([]any)
	if len(want) != len(in.Protectors) {
		t.Fatalf("%d protectors, manifest %d", len(in.Protectors), len(want))
	}
	types := map[string]ProtectorType{"password": ProtectorPassword, "recovery_password": ProtectorRecoveryPassword,
		"external_key": ProtectorStartupKey, "clear_key": ProtectorClearKey}
	for i, w := range want {
		wm := w.(map[string]any)
		p := in.Protectors[i]
		if p.ID != wm["id"] || p.Type != types[wm["type"].(string)] || fmt.Sprintf("0x%04x", p.Code) != wm["protection_code"] {
			t.Errorf("protector %d: %s %s 0x%04x, manifest %v", i, p.Type, p.ID, p.Code, wm)
		}
	}
}

// TestDislockerDifferential decrypts every source volume dislocker can open
// and compares the whole plaintext view, byte for byte, with dislocker-file
// (an independent implementation).
func TestDislockerDifferential(t *testing.T) {
	dis := requireTool(t, "dislocker-file")
	n := 0
	for _, s := range corpusSources(t) {
		if !s.dislock {
			continue
		}
		n++
		t.Run(s.name, func(t *testing.T) {
			v := unlocked(t, s, false)
			want := runDislocker(t, dis, s)
			got := make([]byte, v.Size())
			if _, err := v.ReadAt(got, 0); err != nil {
				t.Fatal(err)
			}
			compareViews(t, got, want)
		})
	}
	if n < 8 {
		t.Fatalf("only %d sources marked as openable by dislocker", n)
	}
}

func requireTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s not installed; CI must have it", name)
		}
		t.Skipf("%s not installed", name)
	}
	return p
}

// dislockerArgs returns the dislocker unlock arguments for s.
func dislockerArgs(t *testing.T, s *source) []string {
	u, _ := s.m["unlock"].(map[string]any)
	switch u["method"] {
	case "password":
		return []string{"-u" + u["secret"].(string)}
	case "recovery_password":
		return []string{"-p" + u["secret"].(string)}
	case "clear_key":
		return []string{"-c"}
	case "bek":
		return []string{"-f", testcorpus.Path(t, u["bek_file"].(string))}
	}
	t.Fatalf("no dislocker arguments for %v", u["method"])
	return nil
}

func runDislocker(t *testing.T, dis string, s *source) []byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), "dislocker.out")
	args := append([]string{"-V", s.path}, dislockerArgs(t, s)...)
	args = append(args, "--", out)
	cmd := exec.Command(dis, args...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("dislocker-file: %v\n%s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(out)
	return b
}

func compareViews(t *testing.T, got, want []byte) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("view is %d bytes, dislocker's %d", len(got), len(want))
	}
	n := min(len(got), len(want))
	if bytes.Equal(got[:n], want[:n]) {
		return
	}
	bad := 0
	for i := 0; i+512 <= n; i += 512 {
		if !bytes.Equal(got[i:i+512], want[i:i+512]) {
			if bad < 5 {
				t.Errorf("sector %d (0x%x) differs from dislocker", i/512, i)
			}
			bad++
		}
	}
	t.Errorf("%d sectors differ", bad)
}

func sha(b []byte) [32]byte { return sha256.Sum256(b) }

// rawRegions returns the SHA-256 of the raw header sector, the relocated
// boot sectors and the three metadata blocks of an image.
func rawRegions(t *testing.T, path string, in *Info) map[string][32]byte {
	t.Helper()
	f, _ := openFile(t, path, false)
	out := map[string][32]byte{}
	read := func(name string, off, n int64) {
		b := make([]byte, n)
		if _, err := f.ReadAt(b, off); err != nil && !errors.Is(err, io.EOF) {
			t.Fatal(err)
		}
		out[name] = sha(b)
	}
	read("header", 0, 8192)
	for i, o := range in.MetadataOffsets {
		read(fmt.Sprintf("metadata%d", i+1), o, in.MetadataSize)
	}
	return out
}
