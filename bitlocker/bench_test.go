package bitlocker

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/unbrick/unbrick/internal/testcorpus"
)

// BenchmarkDecryptVolume reads the whole plaintext view (64 MiB, AES-XTS-128)
// of the corpus volume recovery_password.bin in 8 MiB reads, as
// `unbrick bitlocker decrypt` does, after unlocking once.
func BenchmarkDecryptVolume(b *testing.B) {
	benchDecrypt(b, "recovery_password.bin")
}

// BenchmarkDecryptVolumeDiffuser is the same for AES-CBC-128 + diffuser.
func BenchmarkDecryptVolumeDiffuser(b *testing.B) {
	benchDecrypt(b, "aes_128_diffuser.bin")
}

func benchDecrypt(b *testing.B, name string) {
	path := benchSource(b, name)
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	v, err := Open(f, st.Size())
	if err != nil {
		b.Fatal(err)
	}
	k := Key(Password(corpusPassword))
	if name == "recovery_password.bin" {
		k = RecoveryPassword(corpusRecoveryPassword)
	}
	if err := v.Unlock(k); err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 8<<20)
	b.SetBytes(v.Size())
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		for off := int64(0); off < v.Size(); off += int64(len(buf)) {
			n := min(int64(len(buf)), v.Size()-off)
			if _, err := v.ReadAt(buf[:n], off); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkDislockerFile runs dislocker-file on the same volume (with its
// key derivation), for comparison with BenchmarkUnlockAndDecrypt.
func BenchmarkDislockerFile(b *testing.B) {
	dis, err := exec.LookPath("dislocker-file")
	if err != nil {
		b.Skip("dislocker-file not installed")
	}
	path := benchSource(b, "recovery_password.bin")
	out := filepath.Join(b.TempDir(), "out")
	b.SetBytes(65994752)
	b.ResetTimer()
	for range b.N {
		os.Remove(out)
		if o, err := exec.Command(dis, "-V", path, "-p"+corpusRecoveryPassword, "--", out).CombinedOutput(); err != nil {
			b.Fatalf("%v: %s", err, o)
		}
	}
}

// BenchmarkUnlockAndDecrypt is the whole job of `decrypt` in process:
// open, derive the key from the recovery password (2^20 SHA-256 rounds),
// unwrap, and read the 64 MiB view.
func BenchmarkUnlockAndDecrypt(b *testing.B) {
	path := benchSource(b, "recovery_password.bin")
	buf := make([]byte, 8<<20)
	b.SetBytes(65994752)
	b.ResetTimer()
	for range b.N {
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		st, _ := f.Stat()
		v, err := Open(f, st.Size())
		if err != nil {
			b.Fatal(err)
		}
		if err := v.Unlock(RecoveryPassword(corpusRecoveryPassword)); err != nil {
			b.Fatal(err)
		}
		for off := int64(0); off < v.Size(); off += int64(len(buf)) {
			n := min(int64(len(buf)), v.Size()-off)
			if _, err := v.ReadAt(buf[:n], off); err != nil {
				b.Fatal(err)
			}
		}
		f.Close()
	}
}

// benchSource decompresses a corpus source volume for a benchmark.
func benchSource(b *testing.B, name string) string {
	b.Helper()
	return testcorpus.Decompress(b, "src/"+name+".gz")
}

// BenchmarkStretchKey is one 2^20-round key stretch: the floor of the time
// to open a BitLocker volume with a recovery password or password
// (scripts/bench-fleet.sh compares a fleet run with it).
func BenchmarkStretchKey(b *testing.B) {
	var h [32]byte
	var salt [16]byte
	for i := 0; i < b.N; i++ {
		h = stretchKey(h, salt)
	}
}
