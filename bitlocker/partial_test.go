package bitlocker

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"sort"
	"strings"
	"testing"
)

// sparseImage is an image of zeros with a few runs of data
// (testdata/dissect/README.md describes the file format).
type sparseImage struct {
	size int64
	runs []sparseRun
}

type sparseRun struct {
	off  int64
	data []byte
}

func loadSparse(t *testing.T, path, sum string) *sparseImage {
	t.Helper()
	gz, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if s := sha256.Sum256(gz); hex.EncodeToString(s[:]) != sum {
		t.Fatalf("%s: unexpected SHA-256", path)
	}
	z, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(z)
	if err != nil || !bytes.HasPrefix(b, []byte("UNBRICK-SPARSE-1")) {
		t.Fatalf("%s: %v", path, err)
	}
	b = b[16:]
	im := &sparseImage{size: int64(binary.LittleEndian.Uint64(b))}
	n := int(binary.LittleEndian.Uint32(b[8:]))
	b = b[12:]
	for range n {
		off, l := int64(binary.LittleEndian.Uint64(b)), int(binary.LittleEndian.Uint32(b[8:]))
		im.runs = append(im.runs, sparseRun{off, b[12 : 12+l]})
		b = b[12+l:]
	}
	sort.Slice(im.runs, func(i, j int) bool { return im.runs[i].off < im.runs[j].off })
	return im
}

func (s *sparseImage) ReadAt(p []byte, off int64) (int, error) {
	if off >= s.size {
		return 0, io.EOF
	}
	n := len(p)
	var err error
	if int64(n) > s.size-off {
		n, err = int(s.size-off), io.EOF
	}
	clear(p[:n])
	for _, r := range s.runs {
		lo, hi := max(off, r.off), min(off+int64(n), r.off+int64(len(r.data)))
		if lo < hi {
			copy(p[lo-off:hi-off], r.data[lo-r.off:hi-r.off])
		}
	}
	return n, err
}

// TestWin7PausedDecryption opens dissect.fve's Windows 7 volume whose
// decryption was paused half way: two of its three metadata copies are
// zeroed, so copy 1 must be used; it unlocks with the recovery password and
// with the clear key its suspended protection left; bytes below the
// encrypted size are encrypted and bytes above are plaintext, exactly at the
// sector dissect.fve's test_bde_win7_partial names (2234023 encrypted,
// 2234024 plain).
func TestWin7PausedDecryption(t *testing.T) {
	im := loadSparse(t, "testdata/dissect/win7_partial.sparse.gz", "8231014ff3592ab815eaf33e4c5472a0beef00c48b5496cf9ecdd1859f4cae42")
	if im.size != 2874839040 {
		t.Fatalf("size %d", im.size)
	}
	v, err := Open(im, im.size)
	if err != nil {
		t.Fatal(err)
	}
	in := v.Info()
	if in.State != StatePaused || in.StateDetail != "decryption paused" || in.Method != MethodAES256CBC || in.EncryptedSize != 1143820288 {
		t.Errorf("state %s (%s), method %s, encrypted size %d", in.State, in.StateDetail, in.Method, in.EncryptedSize)
	}
	if in.MetadataCopy != 1 || in.MetadataCopies[0] != "valid" || !strings.Contains(in.MetadataCopies[1], "no -FVE-FS- signature") {
		t.Errorf("metadata copies %q", in.MetadataCopies)
	}
	if !in.Suspended || len(in.Protectors) != 3 {
		t.Errorf("protectors %+v", in.Protectors)
	}
	if err := v.Unlock(RecoveryPassword("131450-120197-153989-250338-511368-495572-680944-381546")); err != nil {
		t.Fatal(err)
	}
	if id, _ := v.UnlockedBy(); id != "8F716353-9C42-4C8E-A3BC-768DEF089E9D" {
		t.Errorf("unlocked by %s", id)
	}
	checkDecryptedView(t, "win7_partial", v)
	for _, c := range []struct {
		sector int64
		kind   segKind
	}{{2234022, segEncrypted}, {2234023, segEncrypted}, {2234024, segPlain}, {2234025, segPlain}} {
		if k, _, _ := v.lay.segment(c.sector*512, 512); k != c.kind {
			t.Errorf("sector %d: kind %d, want %d", c.sector, k, c.kind)
		}
	}
	// Above the boundary the view is the raw bytes.
	got, raw := make([]byte, 4096), make([]byte, 4096)
	v.ReadAt(got, 1143820288)
	im.ReadAt(raw, 1143820288)
	if !bytes.Equal(got, raw) {
		t.Error("plaintext part differs from the raw bytes")
	}
	// The clear key opens it too, and to the same view.
	v2, _ := Open(im, im.size)
	if err := v2.Unlock(ClearKey()); err != nil {
		t.Fatal(err)
	}
	a, b := make([]byte, 1<<20), make([]byte, 1<<20)
	v.ReadAt(a, 0)
	v2.ReadAt(b, 0)
	if !bytes.Equal(a, b) {
		t.Error("clear key and recovery password give different views")
	}
	// The volume is read-only here (sparseImage is no io.WriterAt).
	if _, err := v.WriteAt(a[:512], 1<<20); !errors.Is(err, ErrReadOnly) {
		t.Errorf("write to a read-only image: %v", err)
	}
}
