package bitlocker

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"io"
	"os"
	"testing"
)

// TestVista opens the Windows Vista (metadata version 1) volume of
// dissect.fve's tests, which dislocker 0.7.3 cannot open, and checks:
//   - sector 0 of the view is the raw sector 0 with "NTFS    " and the MFT
//     mirror cluster restored (dissect.fve test_bde_vista; libbde);
//   - sectors 1-15 are the raw sectors (not encrypted on Vista);
//   - the first encrypted sectors decrypt to NTFS $Secure:$SDS entries whose
//     own security-descriptor hashes (NTFS: hash = word + rol(hash, 3) over
//     the descriptor) match: an independent witness of the AES-CBC +
//     Elephant diffuser decryption and of the Vista layout.
func TestVista(t *testing.T) {
	gz, err := os.ReadFile("testdata/dissect/vista.bin.gz")
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(gz); hex.EncodeToString(sum[:]) != "e30c3812d8eec87820e4b0046917955741b4deff9b99c09802313c0b3edc25e9" {
		t.Fatal("testdata/dissect/vista.bin.gz is not the file from dissect.fve")
	}
	z, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(z)
	if err != nil {
		t.Fatal(err)
	}
	v, err := Open(&memImage{b: raw}, int64(len(raw)))
	if err != nil {
		t.Fatal(err)
	}
	in := v.Info()
	if in.Version != 1 || in.Method != MethodAES128Diffuser || in.State != StateEncrypted || in.Size != 96292831232 || !in.Short {
		t.Errorf("info: version %d, %s, %s, size %d, short %v", in.Version, in.Method, in.State, in.Size, in.Short)
	}
	if len(in.Protectors) != 2 || in.Protectors[1].Type != ProtectorRecoveryPassword || in.Protectors[1].ID != "B59C92D8-B1B1-485E-A8FF-B7EAFBA260F3" {
		t.Errorf("protectors %+v", in.Protectors)
	}
	if err := v.Unlock(RecoveryPassword("517506-503998-044583-576191-587004-635965-501270-087802")); err != nil {
		t.Fatal(err)
	}
	if in := v.Info(); in.Integrity != integrityVerified {
		t.Errorf("metadata integrity: %s", in.Integrity)
	}
	view := make([]byte, 0x3000)
	if _, err := v.ReadAt(view, 0); err != nil {
		t.Fatal(err)
	}
	want := bytes.Clone(raw[:512])
	copy(want[3:], "NTFS    ")
	binary.LittleEndian.PutUint64(want[56:], in.MFTMirrorLCN)
	if !bytes.Equal(view[:512], want) {
		t.Error("sector 0 is not the patched raw boot sector")
	}
	if in.MFTMirrorLCN != 11754495 {
		t.Errorf("MFT mirror cluster %d", in.MFTMirrorLCN)
	}
	if !bytes.Equal(view[512:0x2000], raw[512:0x2000]) {
		t.Error("sectors 1-15 are not the raw sectors")
	}
	// $SDS entries: hash u32, security ID u32, offset u64, length u32, SD.
	off, n := 0x2000, 0
	for off+20 <= len(view) {
		h := binary.LittleEndian.Uint32(view[off:])
		id := binary.LittleEndian.Uint32(view[off+4:])
		l := int(binary.LittleEndian.Uint32(view[off+16:]))
		if l < 20 || off+l > len(view) {
			break
		}
		var sum uint32
		for i := off + 20; i+4 <= off+l; i += 4 {
			sum = binary.LittleEndian.Uint32(view[i:]) + (sum<<3 | sum>>29)
		}
		if sum != h || id != uint32(256+n) {
			t.Errorf("$SDS entry at 0x%x: hash %08x, computed %08x, id %d", off, h, sum, id)
		}
		n++
		off += (l + 15) &^ 15
	}
	if n < 8 {
		t.Errorf("only %d $SDS entries decrypted", n)
	}
	// Writing sector 0 stores the Vista patch back.
	m := &memImage{b: bytes.Clone(raw)}
	w, _ := Open(m, int64(len(raw)))
	if err := w.Unlock(v.ReuseKey()); err != nil {
		t.Fatal(err)
	}
	if _, err := w.WriteAt(view[:512], 0); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(m.b[:512], raw[:512]) {
		t.Error("rewriting the boot sector changed the raw sector 0")
	}
}
