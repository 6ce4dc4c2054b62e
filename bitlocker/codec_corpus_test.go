package bitlocker

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/unbrick/unbrick/internal/testcorpus"
)

// Corpus witnesses for the crypto layer: real Windows-made BitLocker
// volumes (fox-it/dissect.fve test data in ../shared/corpus/src). A
// deliberately minimal, test-only walk of the FVE metadata finds the
// protector's stretch salt and the AES-CCM wrapped VMK and FVEK; the
// production parser (metadata.go, BL-VOLUME) is not used, so these tests
// check stretch, AES-CCM and the sector codecs on their own against:
//   - Windows itself: the AES-CCM MACs written by Windows must verify
//     (wrong stretch, wrong CCM layout or a wrong password hash cannot);
//     the relocated NTFS boot sector and the MFT record at 0x2000 that
//     Windows encrypted must decrypt to "NTFS    " and "FILE0";
//   - dislocker-file 0.7 (an independent C implementation): its decrypted
//     image must equal our codec's decryption, byte for byte, over the
//     relocated boot area and the first MiB after it;
//   - our own encoder only for encrypt(decrypt(x)) == x.

type cryptoCorpusVolume struct {
	file       string
	method     Method
	protection uint16 // VMK protection type to unlock
	secret     string // password or recovery password ("" = clear key)
	dislocker  []string
	metadata   int64 // first FVE metadata block offset
	bootBackup int64 // where the original boot sectors are stored
}

var cryptoCorpusVolumes = []cryptoCorpusVolume{
	{"src/aes-xts_128.bin.gz", MethodXTS128, 0x2000, "password12!@", []string{"-upassword12!@"}, 35586048, 35651584},
	{"src/aes_128.bin.gz", MethodAES128CBC, 0x2000, "password12!@", []string{"-upassword12!@"}, 35586048, 35651584},
	{"src/aes_128_diffuser.bin.gz", MethodAES128Diffuser, 0x2000, "password12!@", []string{"-upassword12!@"}, 34603008, 43556864},
	{"src/aes_256_diffuser.bin.gz", MethodAES256Diffuser, 0x2000, "password12!@", []string{"-upassword12!@"}, 34603008, 43556864},
	{"src/recovery_password.bin.gz", MethodXTS128, 0x0800, corpusRecoveryPassword, []string{"-p" + corpusRecoveryPassword}, 35586048, 35651584},
	{"src/suspended.bin.gz", MethodXTS128, 0x0000, "", []string{"-c"}, 35586048, 35651584},
}

func TestCryptoCorpusWindowsVolumes(t *testing.T) {
	testcorpus.Require(t)
	dislocker, lookErr := exec.LookPath("dislocker-file")
	if lookErr != nil && os.Getenv("CI") != "" {
		t.Fatal("dislocker-file not installed; CI must provide it (apt-get install dislocker)")
	}
	for _, cv := range cryptoCorpusVolumes {
		t.Run(filepath.Base(cv.file), func(t *testing.T) {
			path := testcorpus.Decompress(t, cv.file)
			img, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			m, key := cryptoUnwrapFVEK(t, img, cv)
			if m != cv.method {
				t.Fatalf("FVEK method %s, manifest says %s", m, cv.method)
			}
			codec, err := newSectorCodec(m, key, 512)
			if err != nil {
				t.Fatalf("FVEK entry holds %d key bytes for %s: %v", len(key), m, err)
			}

			// Sectors Windows encrypted: the original boot sector (stored
			// at the backup location, encrypted at that offset) and the
			// first MFT record at 0x2000.
			boot := cryptoDecryptAt(codec, img, cv.bootBackup, 512)
			if string(boot[3:11]) != "NTFS    " || boot[510] != 0x55 || boot[511] != 0xaa {
				t.Fatalf("relocated boot sector does not decrypt to an NTFS boot sector: % x", boot[:16])
			}
			mft := cryptoDecryptAt(codec, img, 0x2000, 512)
			if !bytes.HasPrefix(mft, []byte("FILE0\x00\x03\x00")) {
				t.Fatalf("sector at 0x2000 does not decrypt to an MFT record: % x", mft[:16])
			}

			// Encryption gives back exactly what Windows wrote.
			const span = 1 << 20
			plain := cryptoDecryptAt(codec, img, 0x2000, span)
			re := make([]byte, span)
			codec.encryptSectors(re, plain, 0x2000)
			if !bytes.Equal(re, img[0x2000:0x2000+span]) {
				t.Fatal("encrypt(decrypt(x)) != x over the first MiB after the boot area")
			}
			bootArea := cryptoDecryptAt(codec, img, cv.bootBackup, 0x2000)
			codec.encryptSectors(re[:0x2000], bootArea, cv.bootBackup)
			if !bytes.Equal(re[:0x2000], img[cv.bootBackup:cv.bootBackup+0x2000]) {
				t.Fatal("encrypt(decrypt(x)) != x over the relocated boot area")
			}

			if lookErr != nil {
				t.Skip("dislocker-file not installed: skipping the dislocker comparison")
			}
			out := filepath.Join(t.TempDir(), "dislocker.out")
			args := append([]string{"-q", "-V", path}, cv.dislocker...)
			args = append(args, "--", out)
			cmd := exec.Command(dislocker, args...)
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("dislocker-file: %v\n%s", err, b)
			}
			ref := cryptoReadRange(t, out, 0, 0x2000+span)
			if !bytes.Equal(bootArea, ref[:0x2000]) {
				t.Fatalf("boot area differs from dislocker-file at byte %d", cryptoFirstDiff(bootArea, ref[:0x2000]))
			}
			if !bytes.Equal(plain, ref[0x2000:]) {
				t.Fatalf("decryption differs from dislocker-file at byte %#x", 0x2000+cryptoFirstDiff(plain, ref[0x2000:]))
			}
		})
	}
}

func cryptoDecryptAt(c sectorCodec, img []byte, off int64, n int) []byte {
	out := make([]byte, n)
	c.decryptSectors(out, img[off:off+int64(n)], off)
	return out
}

func cryptoReadRange(t *testing.T, path string, off int64, n int) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, n)
	if _, err := f.ReadAt(b, off); err != nil && !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
	return b
}

func cryptoFirstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// cryptoFVEEntry is one FVE metadata entry: size, entry type, value type,
// version, data (libbde documentation, "FVE metadata entry").
type cryptoFVEEntry struct {
	typ, valueType uint16
	data           []byte
}

func cryptoParseEntries(b []byte) ([]cryptoFVEEntry, error) {
	var out []cryptoFVEEntry
	for len(b) >= 8 {
		size := int(binary.LittleEndian.Uint16(b))
		if size == 0 {
			break
		}
		if size < 8 || size > len(b) {
			return nil, fmt.Errorf("entry size %d with %d bytes left", size, len(b))
		}
		out = append(out, cryptoFVEEntry{
			typ:       binary.LittleEndian.Uint16(b[2:]),
			valueType: binary.LittleEndian.Uint16(b[4:]),
			data:      b[8:size],
		})
		b = b[size:]
	}
	return out, nil
}

// cryptoUnwrapFVEK finds the VMK protected as cv says, unwraps it and then
// the FVEK, and returns the FVEK entry's method and key bytes.
func cryptoUnwrapFVEK(t *testing.T, img []byte, cv cryptoCorpusVolume) (Method, []byte) {
	t.Helper()
	blk := img[cv.metadata:]
	if string(blk[:8]) != "-FVE-FS-" {
		t.Fatalf("no FVE metadata block at %d", cv.metadata)
	}
	// 64-byte block header, then the 48-byte metadata header whose first
	// field is the metadata size (including that header).
	size := int(binary.LittleEndian.Uint32(blk[64:]))
	entries, err := cryptoParseEntries(blk[64+48 : 64+size])
	if err != nil {
		t.Fatal(err)
	}
	var vmk []byte
	for _, e := range entries {
		if e.typ != 0x0002 || e.valueType != 0x0008 || len(e.data) < 28 {
			continue
		}
		if binary.LittleEndian.Uint16(e.data[26:]) != cv.protection {
			continue
		}
		props, err := cryptoParseEntries(e.data[28:])
		if err != nil {
			t.Fatal(err)
		}
		var wrapKey []byte
		var sealed cryptoFVEEntry
		for _, p := range props {
			switch p.valueType {
			case 0x0003: // stretch key: method, salt, ...
				var salt [16]byte
				copy(salt[:], p.data[4:20])
				var h [32]byte
				if cv.protection == 0x0800 {
					if h, err = recoveryPasswordHash(cv.secret); err != nil {
						t.Fatal(err)
					}
				} else {
					h = passwordHash(cv.secret)
				}
				k := stretchKey(h, salt)
				wrapKey = k[:]
			case 0x0001: // clear key: method, key
				if cv.protection == 0x0000 {
					wrapKey = p.data[4:]
				}
			case 0x0005:
				sealed = p
			}
		}
		if wrapKey == nil || sealed.data == nil {
			t.Fatalf("VMK entry lacks a key source or an AES-CCM key")
		}
		vmk = cryptoUnwrapKey(t, wrapKey, sealed.data)
		break
	}
	if vmk == nil {
		t.Fatalf("no VMK entry with protection %#04x", cv.protection)
	}
	if len(vmk) < 12+32 {
		t.Fatalf("VMK key entry is %d bytes", len(vmk))
	}
	vmkKey := vmk[12 : 12+32]
	for _, e := range entries {
		if e.typ == 0x0003 && e.valueType == 0x0005 {
			fvek := cryptoUnwrapKey(t, vmkKey, e.data)
			return Method(binary.LittleEndian.Uint16(fvek[8:])), fvek[12:]
		}
	}
	t.Fatal("no AES-CCM FVEK entry")
	return 0, nil
}

// cryptoUnwrapKey opens an AES-CCM encrypted key (12-byte nonce, then MAC
// and ciphertext) and checks the key entry inside: its size field covers
// the whole plaintext and its value type is "key" (1).
func cryptoUnwrapKey(t *testing.T, key, data []byte) []byte {
	t.Helper()
	var nonce [12]byte
	copy(nonce[:], data[:12])
	plain, err := ccmUnwrap(key, nonce, data[12:])
	if err != nil {
		t.Fatalf("AES-CCM unwrap of a Windows-written key: %v", err)
	}
	if len(plain) < 12 || int(binary.LittleEndian.Uint16(plain)) != len(plain) || binary.LittleEndian.Uint16(plain[4:]) != 1 {
		t.Fatalf("unwrapped key entry malformed: % x", plain[:min(12, len(plain))])
	}
	// A wrong key must fail the MAC, never yield garbage.
	bad := bytes.Clone(key)
	bad[0] ^= 1
	if _, err := ccmUnwrap(bad, nonce, data[12:]); !errors.Is(err, ErrCCMAuth) {
		t.Fatalf("wrong key: err = %v, want ErrCCMAuth", err)
	}
	return plain
}
