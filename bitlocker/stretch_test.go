package bitlocker

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"strings"
	"testing"
	"unicode/utf16"
)

// The corpus recovery password (../shared/corpus/README.md).
const corpusRecoveryPassword = "284867-596541-514998-422114-660297-261613-215424-199408"

func TestCryptoRecoveryPasswordHash(t *testing.T) {
	// The key is the eight group values divided by 11, little-endian
	// 16-bit each (libbde documentation, "Recovery password").
	groups := []uint16{284867 / 11, 596541 / 11, 514998 / 11, 422114 / 11, 660297 / 11, 261613 / 11, 215424 / 11, 199408 / 11}
	var key [16]byte
	for i, g := range groups {
		binary.LittleEndian.PutUint16(key[2*i:], g)
	}
	want := sha256.Sum256(key[:])
	for _, form := range []string{
		corpusRecoveryPassword,
		"284867 596541 514998 422114 660297 261613 215424 199408",
		"284867596541514998422114660297261613215424199408",
		"  284867-596541-514998-422114-660297-261613-215424-199408\n",
		"284867\u2013596541\u2013514998\u2013422114\u2013660297\u2013261613\u2013215424\u2013199408",
		"284867 - 596541 - 514998 - 422114 - 660297 - 261613 - 215424 - 199408",
	} {
		got, err := recoveryPasswordHash(form)
		if err != nil {
			t.Errorf("%q: %v", form, err)
			continue
		}
		if got != want {
			t.Errorf("%q: hash %x, want %x", form, got, want)
		}
	}
	// The largest and smallest valid groups.
	if _, err := recoveryPasswordHash("720885-000000-000000-000000-000000-000000-000000-000000"); err != nil {
		t.Errorf("720885 (65535*11) rejected: %v", err)
	}
}

func TestCryptoRecoveryPasswordErrors(t *testing.T) {
	for _, tc := range []struct{ pw, want string }{
		{"", "empty"},
		{"   ", "empty"},
		{"284867-596541-123456-422114-660297-261613-215424-199408", "group 3 fails its checksum"},
		{"284867-596541-514998-422114-660297-261613-215424-720896", "group 8 fails its checksum"},
		{"284867-596541-514998-422114-660297-261613-215424-999999", "group 8 fails its checksum"},
		{"284867-596541-514998-422114-660297-261613-215424", "has 7 groups; want 8"},
		{"284867-596541-514998-422114-660297-261613-215424-199408-199408", "has 9 groups"},
		{"284867-59654-514998-422114-660297-261613-215424-199408", "group 2 has 5 characters"},
		{"284867-596541-51a998-422114-660297-261613-215424-199408", "group 3 contains a character that is not a digit"},
		{"28486759654151499842211466029726161321542419940", "has 47 characters"},
		{"password12!@", "not a digit"},
	} {
		_, err := recoveryPasswordHash(tc.pw)
		if err == nil {
			t.Errorf("%q accepted", tc.pw)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %q, want it to contain %q", tc.pw, err, tc.want)
		}
		// Never the whole password, and no group other than a named one.
		if len(tc.pw) > 12 && strings.Contains(err.Error(), tc.pw) {
			t.Errorf("%q: error echoes the password", tc.pw)
		}
		if strings.Contains(err.Error(), "284867") || strings.Contains(err.Error(), "password12") ||
			strings.Contains(err.Error(), "123456") || strings.Contains(err.Error(), "999999") {
			t.Errorf("%q: error %q echoes a group that is not wrong", tc.pw, err)
		}
	}
}

func TestCryptoPasswordHash(t *testing.T) {
	pw := "password12!@ äß€😀"
	u := utf16.Encode([]rune(pw))
	b := make([]byte, 0, 2*len(u))
	for _, c := range u {
		b = binary.LittleEndian.AppendUint16(b, c)
	}
	h1 := sha256.Sum256(b)
	want := sha256.Sum256(h1[:])
	if got := passwordHash(pw); got != want {
		t.Fatalf("passwordHash = %x, want %x", got, want)
	}
	// Known answer for the ASCII corpus password, computed with Python:
	// hashlib.sha256(hashlib.sha256("password12!@".encode("utf-16-le")).digest()).hexdigest()
	got := passwordHash("password12!@")
	if hex.EncodeToString(got[:]) != cryptoPasswordHashKAT {
		t.Fatalf("passwordHash(corpus password) = %x, want %s", got, cryptoPasswordHashKAT)
	}
}

// The stretch with a reduced round count against a direct transcription
// of the documented loop (libbde documentation "Recovery key"; dissect.fve
// bde/key.py): 88-byte structure, counter little-endian, starting at 0.
// The full 2^20-round stretch is checked against real Windows volumes in
// the corpus tests, where a wrong stretch cannot unwrap the VMK.
func TestCryptoStretchStructure(t *testing.T) {
	var hash [32]byte
	var salt [16]byte
	for i := range hash {
		hash[i] = byte(i)
	}
	for i := range salt {
		salt[i] = byte(0xf0 + i)
	}
	ref := func(rounds uint64) [32]byte {
		var last [32]byte
		for i := uint64(0); i < rounds; i++ {
			buf := make([]byte, 0, 88)
			buf = append(buf, last[:]...)
			buf = append(buf, hash[:]...)
			buf = append(buf, salt[:]...)
			buf = binary.LittleEndian.AppendUint64(buf, i)
			last = sha256.Sum256(buf)
		}
		return last
	}
	for _, r := range []uint64{1, 2, 300} {
		if got, want := stretchN(hash, salt, r), ref(r); got != want {
			t.Errorf("%d rounds: %x, want %x", r, got, want)
		}
	}
}

// cryptoPasswordHashKAT is SHA-256(SHA-256(UTF-16LE("password12!@"))),
// computed with Python's hashlib.
const cryptoPasswordHashKAT = "13619bc65aa48e435f886990fd217df64076017f03bbade46df0173973dd7dd1"

func BenchmarkStretch(b *testing.B) {
	var h [32]byte
	var s [16]byte
	for b.Loop() {
		h = stretchKey(h, s)
	}
}

func FuzzRecoveryPassword(f *testing.F) {
	f.Add(corpusRecoveryPassword)
	f.Add("284867596541514998422114660297261613215424199408")
	f.Add("1-2-3-4-5-6-7-8")
	f.Add("\u2013\u2013 \x00\xff")
	f.Fuzz(func(t *testing.T, pw string) {
		h, err := recoveryPasswordHash(pw)
		if err != nil {
			if h != ([32]byte{}) {
				t.Fatal("error with a non-zero hash")
			}
			if len(pw) >= 12 && strings.Contains(err.Error(), pw) {
				t.Fatalf("error echoes the input: %v", err)
			}
		}
	})
}
