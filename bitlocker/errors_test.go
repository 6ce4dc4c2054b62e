package bitlocker

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"hash/crc32"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/unbrick/unbrick/internal/testcorpus"
)

// memImage is an in-memory image (io.ReaderAt + io.WriterAt) that counts
// writes.
type memImage struct {
	b      []byte
	writes int
}

func (m *memImage) ReadAt(p []byte, off int64) (int, error) {
	if off >= int64(len(m.b)) {
		return 0, io.EOF
	}
	n := copy(p, m.b[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (m *memImage) WriteAt(p []byte, off int64) (int, error) {
	m.writes++
	return copy(m.b[off:], p), nil
}

// sourceBytes reads a corpus source volume into memory.
func sourceBytes(t *testing.T, srcs []*source, name string) []byte {
	t.Helper()
	for _, s := range srcs {
		if s.name == name {
			b, err := os.ReadFile(s.path)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
	}
	t.Fatalf("corpus source %s missing", name)
	return nil
}

// fixCRC recomputes the CRC-32 of the metadata block at off after a test
// edited it.
func fixCRC(b []byte, off int64) {
	m := b[off:]
	size := int(binary.LittleEndian.Uint16(m[8:])) << 4
	binary.LittleEndian.PutUint32(m[size+4:], crc32.ChecksumIEEE(m[:size]))
}

func TestUnlockErrors(t *testing.T) {
	srcs := corpusSources(t, "recovery_password.bin")
	rp := sourceBytes(t, srcs, "recovery_password.bin")
	const rpID, pwID = "3C116B76-C67B-484E-B439-CE2ED68B561E", "6DD54BCD-633D-4836-9EBC-44FA02F1776D"
	open := func(t *testing.T, b []byte) (*Volume, *memImage) {
		t.Helper()
		m := &memImage{b: b}
		v, err := Open(m, int64(len(b)))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return v, m
	}
	const wrongRP = "000000-000000-000000-000000-000000-000000-000000-000011"

	t.Run("wrong recovery password", func(t *testing.T) {
		v, m := open(t, rp)
		err := v.Unlock(RecoveryPassword(wrongRP))
		var we *WrongKeyError
		if !errors.As(err, &we) || we.ProtectorID != rpID || !errors.Is(err, ErrWrongKey) {
			t.Fatalf("got %v, want *WrongKeyError for %s", err, rpID)
		}
		if want := "wrong recovery password for protector {" + rpID + "}"; err.Error() != want {
			t.Errorf("message %q, want %q", err, want)
		}
		if _, err := v.ReadAt(make([]byte, 512), 0); !errors.Is(err, ErrLocked) {
			t.Errorf("ReadAt on a locked volume: %v, want ErrLocked", err)
		}
		if _, err := v.WriteAt(make([]byte, 512), 0); !errors.Is(err, ErrLocked) || m.writes != 0 {
			t.Errorf("WriteAt on a locked volume: %v (%d writes)", err, m.writes)
		}
	})
	t.Run("wrong password", func(t *testing.T) {
		v, _ := open(t, rp)
		err := v.Unlock(Password("not the password"))
		if want := "wrong password for protector {" + pwID + "}"; err == nil || err.Error() != want {
			t.Fatalf("got %v, want %q", err, want)
		}
		if strings.Contains(err.Error(), "not the password") {
			t.Error("error repeats the secret")
		}
	})
	t.Run("malformed recovery password names the group", func(t *testing.T) {
		v, _ := open(t, rp)
		err := v.Unlock(RecoveryPassword("284867-596541-514998-422115-660297-261613-215424-199408"))
		if !errors.Is(err, ErrLocked) || errors.Is(err, ErrWrongKey) || !strings.Contains(err.Error(), "group 4") {
			t.Fatalf("got %v, want a malformed-secret error naming group 4", err)
		}
	})
	t.Run("no key names the recovery key ID", func(t *testing.T) {
		v, _ := open(t, rp)
		err := v.Unlock()
		var ne *NeedRecoveryKeyError
		if !errors.As(err, &ne) || !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "recovery key ID {"+rpID+"}") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("TPM-only volume names the recovery key ID", func(t *testing.T) {
		// Turn the password protector into a TPM protector (protection
		// 0x0100) in all three copies, as a TPM-protected system volume
		// looks off its machine.
		b := bytes.Clone(rp)
		v0, _ := open(t, bytes.Clone(rp))
		for _, off := range v0.Info().MetadataOffsets {
			i := bytes.Index(b[off:off+4096], mustGUIDBytes(t, pwID))
			if i < 0 {
				t.Fatal("password protector not found")
			}
			binary.LittleEndian.PutUint16(b[off+int64(i)+26:], protectionTPM)
			fixCRC(b, off)
		}
		v, _ := open(t, b)
		if p := v.Protectors()[1]; p.Type != ProtectorTPM {
			t.Fatalf("protector 2 is %s", p.Type)
		}
		err := v.Unlock(Password(corpusPassword))
		if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "supply the recovery password for recovery key ID {"+rpID+"}") ||
			!strings.Contains(err.Error(), "TPM {"+pwID+"}") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("startup key of another volume", func(t *testing.T) {
		v, _ := open(t, rp)
		bek, err := os.ReadFile(sourcePath(t, "startup_key.bek"))
		if err != nil {
			t.Fatal(err)
		}
		err = v.Unlock(BEK(bek))
		var ne *NoProtectorError
		if !errors.As(err, &ne) || !strings.Contains(err.Error(), "B3411A58-3400-420A-8B7E-9B5F706425C0") {
			t.Fatalf("got %v", err)
		}
		if err := v.Unlock(BEK([]byte("not a bek file at all, just some text padding......"))); !errors.Is(err, ErrLocked) {
			t.Fatalf("garbage .BEK: %v", err)
		}
	})
	t.Run("clear key on a protected volume", func(t *testing.T) {
		v, _ := open(t, rp)
		if err := v.Unlock(ClearKey()); !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "no clear key protector") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("metadata edited without the key", func(t *testing.T) {
		// Change the description and fix the CRC-32 in all copies: the
		// SHA-256 under the VMK no longer matches.
		b := bytes.Clone(rp)
		v0, _ := open(t, bytes.Clone(rp))
		for _, off := range v0.Info().MetadataOffsets {
			i := bytes.Index(b[off:off+4096], []byte("D\x00E\x00S\x00K"))
			b[off+int64(i)] = 'X'
			fixCRC(b, off)
		}
		v, _ := open(t, b)
		if !strings.HasPrefix(v.Info().Description, "XESK") {
			t.Fatalf("description %q", v.Info().Description)
		}
		err := v.Unlock(RecoveryPassword(corpusRecoveryPassword))
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "SHA-256") {
			t.Fatalf("got %v, want the SHA-256 integrity error", err)
		}
	})
}

func mustGUIDBytes(t *testing.T, s string) []byte {
	t.Helper()
	h, err := hex.DecodeString(strings.ReplaceAll(s, "-", ""))
	if err != nil || len(h) != 16 {
		t.Fatal(s)
	}
	return []byte{h[3], h[2], h[1], h[0], h[5], h[4], h[7], h[6], h[8], h[9], h[10], h[11], h[12], h[13], h[14], h[15]}
}

func sourcePath(t *testing.T, name string) string {
	t.Helper()
	return testcorpus.Path(t, "src/"+name)
}

// TestRawFVEK unlocks with the raw keys published in dissect.fve's tests
// (tests/bde/test_bde.py, test_bde_raw_key): an independent witness of the
// FVEK unwrapping and of the key material layout --fvek takes.
func TestRawFVEK(t *testing.T) {
	srcs := corpusSources(t, "aes_128.bin", "aes-xts_128.bin", "aes_128_diffuser.bin", "aes_256_diffuser.bin")
	for name, h := range map[string]string{
		"aes_128.bin":          "84c3a3157e5f21dee140005220bc940e",
		"aes-xts_128.bin":      "4eb949c473f0edfc379ad041670ddb9c4da0abdb4482a2c8bb47250493aa1ed5",
		"aes_128_diffuser.bin": "10730f695df62a49cd3aa1b1c9ae3edf2229c338a3740830e2b19d2b83f9cada268af0e0613921085edc89e1b804de354fd265acf4e5c410b47764bb9565666b",
		"aes_256_diffuser.bin": "3a600625f8fd5cc506cf8b30c8ca0600cc32f0c6b54c140789f7518c4fb5c71ba272f34f1a920d5be247298b5d233ce6199023c24d0aefec28717232f9894d1f",
	} {
		t.Run(name, func(t *testing.T) {
			b := sourceBytes(t, srcs, name)
			key, _ := hex.DecodeString(h)
			v, err := Open(&memImage{b: b}, int64(len(b)))
			if err != nil {
				t.Fatal(err)
			}
			bad := bytes.Clone(key)
			bad[0] ^= 1
			if err := v.Unlock(RawFVEK(bad)); !errors.Is(err, ErrWrongKey) {
				t.Fatalf("wrong FVEK: %v", err)
			}
			if err := v.Unlock(RawFVEK(key[:len(key)-1])); !errors.Is(err, ErrLocked) {
				t.Fatalf("short FVEK: %v", err)
			}
			if err := v.Unlock(RawFVEK(key)); err != nil {
				t.Fatal(err)
			}
			checkDecryptedView(t, name, v)
			// The same key comes out of the password protector.
			v2, _ := Open(&memImage{b: b}, int64(len(b)))
			if err := v2.Unlock(Password(corpusPassword)); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(v2.fvek, key) {
				t.Errorf("FVEK from the password protector differs from dissect.fve's")
			}
		})
	}
}

// TestDamagedMetadata flips bytes in the metadata copies and cuts images
// short: documented errors, fallback to the next copy, no panic, nothing
// written.
func TestDamagedMetadata(t *testing.T) {
	srcs := corpusSources(t, "recovery_password.bin")
	orig := sourceBytes(t, srcs, "recovery_password.bin")
	sum := sha256.Sum256(orig)
	v0, err := Open(&memImage{b: orig}, int64(len(orig)))
	if err != nil {
		t.Fatal(err)
	}
	offs := v0.Info().MetadataOffsets

	t.Run("copy 1 damaged: falls back to copy 2", func(t *testing.T) {
		b := bytes.Clone(orig)
		b[offs[0]+200] ^= 0x40
		m := &memImage{b: b}
		v, err := Open(m, int64(len(b)))
		if err != nil {
			t.Fatal(err)
		}
		in := v.Info()
		if in.MetadataCopy != 2 || !strings.Contains(in.MetadataCopies[0], "CRC-32 mismatch") || in.MetadataCopies[1] != "valid" {
			t.Fatalf("copy used %d, copies %q", in.MetadataCopy, in.MetadataCopies)
		}
		if err := v.Unlock(RecoveryPassword(corpusRecoveryPassword)); err != nil {
			t.Fatal(err)
		}
		checkDecryptedView(t, "fallback", v)
		if m.writes != 0 {
			t.Error("opening wrote to the image")
		}
	})
	t.Run("all copies damaged", func(t *testing.T) {
		for _, at := range []int64{0, 9, 10, 16, 64, 70, 100, 300, 600} {
			b := bytes.Clone(orig)
			for _, o := range offs {
				b[o+at] ^= 0x81
			}
			m := &memImage{b: b}
			_, err := Open(m, int64(len(b)))
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "FVE metadata block 3") {
				t.Errorf("byte %d flipped in all copies: %v, want ErrCorrupt naming each copy", at, err)
			}
			if m.writes != 0 {
				t.Error("wrote to the image")
			}
		}
	})
	t.Run("header damaged", func(t *testing.T) {
		b := bytes.Clone(orig)
		b[3] = 'X'
		if _, err := Open(&memImage{b: b}, int64(len(b))); !errors.Is(err, ErrNotBitLocker) {
			t.Errorf("no signature: %v", err)
		}
		b = bytes.Clone(orig)
		b[11], b[12] = 0x00, 0x03 // 768 bytes per sector
		if _, err := Open(&memImage{b: b}, int64(len(b))); !errors.Is(err, ErrCorrupt) {
			t.Errorf("bad sector size: %v", err)
		}
	})
	t.Run("cut short", func(t *testing.T) {
		// Cut before the end of the CRC-protected bytes of copy 1 (928
		// bytes + the 8-byte validation header here): no valid copy.
		for _, n := range []int64{0, 100, 511, 4096, offs[0] - 1, offs[0] + 100, offs[0] + 935} {
			b := bytes.Clone(orig[:n])
			_, err := Open(&memImage{b: b}, n)
			if err == nil {
				t.Errorf("image cut at %d opened", n)
				continue
			}
			if !errors.Is(err, ErrNotBitLocker) && !errors.Is(err, ErrCorrupt) && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("cut at %d: undocumented error %v", n, err)
			}
		}
		// Cut after the protected bytes of copy 1: opens; the rest reads as
		// zeros; writes there are refused.
		n := offs[0] + 936
		m := &memImage{b: bytes.Clone(orig[:n])}
		v, err := Open(m, n)
		if err != nil {
			t.Fatal(err)
		}
		if !v.Short() || v.Size() != 65994752 {
			t.Fatalf("short %v size %d", v.Short(), v.Size())
		}
		if err := v.Unlock(RecoveryPassword(corpusRecoveryPassword)); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 4096)
		if _, err := v.ReadAt(buf, v.Size()-4096); err != nil || !allZero(buf) {
			t.Errorf("read past the image: %v, zero %v", err, allZero(buf))
		}
		if _, err := v.WriteAt(buf, v.Size()-4096); !errors.Is(err, ErrShortImage) || m.writes != 0 {
			t.Errorf("write past the image: %v (%d writes)", err, m.writes)
		}
	})
	if sha256.Sum256(orig) != sum {
		t.Error("the source bytes changed")
	}
}

func TestHeaderDetection(t *testing.T) {
	sec := make([]byte, 512)
	copy(sec[3:], "NTFS    ")
	if _, err := parseVolumeHeader(sec); !errors.Is(err, ErrNotBitLocker) {
		t.Errorf("NTFS: %v", err)
	}
	copy(sec[3:], "MSWIN4.1")
	if _, err := parseVolumeHeader(sec); !errors.Is(err, ErrNotBitLocker) {
		t.Errorf("plain FAT: %v", err)
	}
	copy(sec[424:], bitlockerGUID[:])
	if _, err := parseVolumeHeader(sec); !errors.Is(err, ErrBitLockerToGo) || !strings.Contains(err.Error(), "not supported yet") {
		t.Errorf("BitLocker To Go: %v", err)
	}
	if _, err := parseVolumeHeader(sec[:100]); !errors.Is(err, ErrNotBitLocker) {
		t.Errorf("short: %v", err)
	}
	if _, err := Open(&memImage{b: make([]byte, 1<<20)}, 1<<20); !errors.Is(err, ErrNotBitLocker) {
		t.Errorf("zeros: %v", err)
	}
}

// TestPartiallyEncrypted sets the encrypted volume size of a copy of an
// encrypted volume to 40 MiB and its state to "encryption paused" (as a
// conversion stopped half way leaves it; dissect.fve's win7_partial volume
// is such a case): bytes below the boundary must decrypt as before, bytes
// above must be shown as stored. The FVEK is given directly, since the
// edited metadata no longer matches its SHA-256.
func TestPartiallyEncrypted(t *testing.T) {
	srcs := corpusSources(t, "aes-xts_128.bin")
	orig := sourceBytes(t, srcs, "aes-xts_128.bin")
	full, err := Open(&memImage{b: orig}, int64(len(orig)))
	if err != nil {
		t.Fatal(err)
	}
	fvek, _ := hex.DecodeString("4eb949c473f0edfc379ad041670ddb9c4da0abdb4482a2c8bb47250493aa1ed5")
	if err := full.Unlock(RawFVEK(fvek)); err != nil {
		t.Fatal(err)
	}
	const boundary = 40 << 20 // above the relocated boot sectors (34 MiB), below metadata block 2
	b := bytes.Clone(orig)
	for _, off := range full.Info().MetadataOffsets {
		binary.LittleEndian.PutUint16(b[off+12:], statePaused)
		binary.LittleEndian.PutUint16(b[off+14:], stateEncrypted)
		binary.LittleEndian.PutUint64(b[off+16:], boundary)
		fixCRC(b, off)
	}
	// Put recognisable plaintext just above the boundary.
	copy(b[boundary:], "plaintext above the boundary")
	v, err := Open(&memImage{b: b}, int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	if in := v.Info(); in.State != StatePaused || in.StateDetail != "encryption paused" || in.EncryptedSize != boundary {
		t.Errorf("state %s (%s), encrypted size %d", in.State, in.StateDetail, in.EncryptedSize)
	}
	if err := v.Unlock(RawFVEK(fvek)); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 1024)
	want := make([]byte, 1024)
	v.ReadAt(got, boundary-512)
	full.ReadAt(want, boundary-512)
	if !bytes.Equal(got[:512], want[:512]) {
		t.Error("the last encrypted sector does not decrypt as in the fully encrypted volume")
	}
	if !bytes.Equal(got[512:], b[boundary:boundary+512]) {
		t.Error("the first sector above the encrypted size is not shown as stored")
	}
	checkDecryptedView(t, "partially encrypted", v)
	// Writes keep to the same rule: plaintext above, ciphertext below.
	m := &memImage{b: b}
	w, _ := Open(m, int64(len(b)))
	w.Unlock(RawFVEK(fvek))
	p := bytes.Repeat([]byte{0xA5}, 1024)
	if _, err := w.WriteAt(p, boundary-512); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(m.b[boundary:boundary+512], p[:512]) || bytes.Equal(m.b[boundary-512:boundary], p[:512]) {
		t.Error("write across the boundary: plaintext half not stored as is, or ciphertext half not encrypted")
	}
	w.ReadAt(got, boundary-512)
	if !bytes.Equal(got, p) {
		t.Error("write across the boundary does not read back")
	}
}
