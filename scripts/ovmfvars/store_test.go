package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"errors"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/unbrick/unbrick/image"
)

const msVars = "/usr/share/OVMF/OVMF_VARS_4M.ms.fd"

func readMSVars(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(msVars)
	if errors.Is(err, os.ErrNotExist) {
		t.Skipf("%s is absent (Debian package ovmf): skipping the test on a real variable store", msVars)
	}
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func testCert(t *testing.T) []byte {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "ovmfvars test CA"},
		NotBefore: time.Unix(0, 0), NotAfter: time.Unix(1<<32, 0), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func TestGUIDByteOrder(t *testing.T) {
	// EFI_CERT_X509_GUID as the UEFI specification's C initialiser gives
	// it: {0xa5c059a1, 0x94e4, 0x4aa7, {0x87, 0xb5, 0xab, 0x15, 0x5c, 0x2b, 0xf0, 0x72}}.
	want := []byte{0xa1, 0x59, 0xc0, 0xa5, 0xe4, 0x94, 0xa7, 0x4a, 0x87, 0xb5, 0xab, 0x15, 0x5c, 0x2b, 0xf0, 0x72}
	if !bytes.Equal(CertX509GUID.Bytes(), want) {
		t.Fatalf("EFI_CERT_X509_GUID bytes % x, want % x", CertX509GUID.Bytes(), want)
	}
	if s := CertX509GUID.String(); s != "a5c059a1-94e4-4aa7-87b5-ab155c2bf072" {
		t.Fatalf("String() = %s", s)
	}
	for _, bad := range []string{"", "a5c059a1-94e4-4aa7-87b5-ab155c2bf07", "a5c059a1x94e4-4aa7-87b5-ab155c2bf072", "g5c059a1-94e4-4aa7-87b5-ab155c2bf072"} {
		if _, err := ParseGUID(bad); err == nil {
			t.Errorf("ParseGUID(%q) accepted", bad)
		}
	}
}

func TestX509SignatureList(t *testing.T) {
	der := testCert(t)
	esl, err := X509SignatureList(der, MicrosoftOwnerGUID)
	if err != nil {
		t.Fatal(err)
	}
	if len(esl) != 28+16+len(der) || binary.LittleEndian.Uint32(esl[16:]) != uint32(len(esl)) || binary.LittleEndian.Uint32(esl[24:]) != uint32(16+len(der)) {
		t.Fatalf("header: size %d, fields % x", len(esl), esl[16:28])
	}
	got, err := ParseSignatureLists(esl)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Type != CertX509GUID || got[0].Owner != MicrosoftOwnerGUID || !bytes.Equal(got[0].Data, der) {
		t.Fatalf("parsed back %+v", got)
	}
	if _, err := ParseSignatureLists(esl[:len(esl)-1]); err == nil {
		t.Fatal("a truncated list parsed")
	}
}

// TestRoundTripMSVars edits a copy of Debian's Secure Boot variable store
// as the matrix test does and reads the result back.
func TestRoundTripMSVars(t *testing.T) {
	orig := readMSVars(t)
	data := append([]byte(nil), orig...)
	s, err := ParseStore(data)
	if err != nil {
		t.Fatal(err)
	}
	live := map[string]bool{}
	for _, v := range s.LiveVariables() {
		live[v.Name] = true
	}
	for _, n := range []string{"PK", "KEK", "db", "dbx", "SecureBootEnable"} {
		if !live[n] {
			t.Errorf("no live %s in %s", n, msVars)
		}
	}
	if live["SbatLevel"] {
		t.Fatalf("%s already holds SbatLevel", msVars)
	}
	// The names agree with an independent reader of UTF-16 strings.
	if path, err := exec.LookPath("strings"); err == nil {
		out, err := exec.Command(path, "-el", msVars).Output()
		if err != nil {
			t.Fatal(err)
		}
		found := map[string]bool{}
		for _, l := range strings.Split(string(out), "\n") {
			found[l] = true
		}
		for n := range live {
			if len(n) >= 4 && !found[n] { // strings prints runs of 4 or more
				t.Errorf("variable %q is not among the names strings -el finds", n)
			}
		}
	} else {
		t.Log("strings (binutils) not installed: names not cross-checked")
	}

	oldDB := s.Live("db", ImageSecurityDatabaseGUID)
	oldAttrs, oldTS, oldOff := oldDB.Attributes, oldDB.TimeStamp, oldDB.Offset
	der := testCert(t)
	esl, err := X509SignatureList(der, MicrosoftOwnerGUID)
	if err != nil {
		t.Fatal(err)
	}
	freeBefore := s.Free()
	if _, err := s.Set("db", ImageSecurityDatabaseGUID, esl, nil); err != nil {
		t.Fatal(err)
	}
	level := []byte("sbat,1,2025051000\nshim,4\ngrub,5\n")
	attrs := uint32(AttrNonVolatile | AttrBootserviceAccess)
	if _, err := s.Set("SbatLevel", ShimLockGUID, level, &attrs); err != nil {
		t.Fatal(err)
	}

	// Parse the edited bytes from scratch.
	s2, err := ParseStore(append([]byte(nil), s.Bytes()...))
	if err != nil {
		t.Fatalf("edited store: %v", err)
	}
	db := s2.Live("db", ImageSecurityDatabaseGUID)
	if db == nil || db.Offset == oldOff || db.Attributes != oldAttrs || db.TimeStamp != oldTS || !bytes.Equal(db.Data, esl) {
		t.Fatalf("db after the edit: %+v", db)
	}
	sigs, err := ParseSignatureLists(db.Data)
	if err != nil || len(sigs) != 1 {
		t.Fatalf("db signature lists: %v, %d entries", err, len(sigs))
	}
	if c, err := x509.ParseCertificate(sigs[0].Data); err != nil || c.Subject.CommonName != "ovmfvars test CA" {
		t.Fatalf("db certificate: %v", err)
	}
	if st := s2.Bytes()[oldOff+2]; st != varAdded&varDeleted {
		t.Fatalf("old db State %#x, want %#x", st, varAdded&varDeleted)
	}
	sl := s2.Live("SbatLevel", ShimLockGUID)
	if sl == nil || sl.Attributes != attrs || !bytes.Equal(sl.Data, level) || sl.MonotonicCount != 0 || sl.TimeStamp != [16]byte{} {
		t.Fatalf("SbatLevel after the edit: %+v", sl)
	}
	if n := len(s2.LiveVariables()); n != len(live)+1 {
		t.Fatalf("%d live variables after the edit, want %d", n, len(live)+1)
	}
	if used := freeBefore - s2.Free(); used != align4(60+6+int64(len(esl)))+align4(60+20+int64(len(level))) &&
		used != align4(60+6+int64(len(esl)))+60+20+int64(len(level)) {
		t.Fatalf("the edit used %d bytes of free space", used)
	}
	// Nothing else changed: outside the old db's State byte, the bytes up
	// to the old end of the variables are as they were.
	edited := s2.Bytes()
	for i := range orig {
		if orig[i] != edited[i] && int64(i) != oldOff+2 && int64(i) < s.storeEnd-freeBefore {
			t.Fatalf("byte %#x changed (%#x -> %#x)", i, orig[i], edited[i])
		}
	}
	// And an independent reader sees the new name.
	if _, err := exec.LookPath("strings"); err == nil {
		p := filepath.Join(t.TempDir(), "vars.fd")
		if err := os.WriteFile(p, edited, 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command("strings", "-el", p).Output()
		if err != nil || !strings.Contains(string(out), "\nSbatLevel\n") {
			t.Fatalf("strings -el does not find SbatLevel in the edited store (%v)", err)
		}
	}
}

func TestStoreErrors(t *testing.T) {
	orig := readMSVars(t)
	cp := func() []byte { return append([]byte(nil), orig...) }

	b := cp()
	copy(b[40:], "_FVX")
	var fe *FormatError
	if _, err := ParseStore(b); !errors.As(err, &fe) || fe.Field != "Signature" || fe.Offset != 40 || !errors.Is(err, ErrBadStore) {
		t.Fatalf("bad _FVH: %v", err)
	}
	b = cp()
	b[0x48] ^= 1 // store GUID
	if _, err := ParseStore(b); !errors.As(err, &fe) || fe.Structure != "VARIABLE_STORE_HEADER" || fe.Field != "Signature" {
		t.Fatalf("bad store GUID: %v", err)
	}
	b = cp()
	s, err := ParseStore(b)
	if err != nil {
		t.Fatal(err)
	}
	first := s.Variables[0].Offset
	binary.LittleEndian.PutUint32(b[first+36:], 3) // odd NameSize
	if _, err := ParseStore(b); !errors.As(err, &fe) || fe.Field != "NameSize" || fe.Offset != first+36 {
		t.Fatalf("odd NameSize: %v", err)
	}
	b = cp()
	binary.LittleEndian.PutUint32(b[first+40:], 1<<30) // DataSize past the end
	if _, err := ParseStore(b); !errors.As(err, &fe) || fe.Field != "DataSize" {
		t.Fatalf("huge DataSize: %v", err)
	}
	b = cp()
	s, _ = ParseStore(b)
	b[s.freeOff+100] = 0 // garbage in the free space
	if _, err := ParseStore(b); !errors.As(err, &fe) || fe.Offset != s.freeOff+100 {
		t.Fatalf("garbage in free space: %v", err)
	}
	s, _ = ParseStore(cp())
	if _, err := s.Set("big", ShimLockGUID, make([]byte, s.Free()), ptr(uint32(3))); err == nil || !strings.Contains(err.Error(), "free bytes") {
		t.Fatalf("oversized variable: %v", err)
	}
	if _, err := s.Set("new", ShimLockGUID, []byte("x"), nil); err == nil {
		t.Fatal("a new variable without attributes was accepted")
	}
	if _, err := s.Set("new", ShimLockGUID, []byte("x"), ptr(uint32(AttrBootserviceAccess))); err == nil {
		t.Fatal("a volatile variable was written to the store")
	}
}

func ptr[T any](v T) *T { return &v }

const shimPath = ".cache/unbrick/bootchain/usr/lib/shim/shimx64.efi.signed"

func readShim(t *testing.T) []byte {
	t.Helper()
	home, _ := os.UserHomeDir()
	p := filepath.Join(home, shimPath)
	if d := os.Getenv("UNBRICK_BOOTCHAIN"); d != "" {
		p = filepath.Join(d, "usr/lib/shim/shimx64.efi.signed")
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		t.Skipf("%s is absent (run scripts/fetch-bootchain.sh): skipping the tests on Debian's shim", p)
	}
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestStripShim(t *testing.T) {
	data := readShim(t)
	sigs, _, _, err := image.EFISignatures("shim", data)
	if err != nil {
		t.Fatal(err)
	}
	if len(sigs) < 2 {
		t.Skipf("this shim has %d signature(s); the test wants one per Microsoft CA", len(sigs))
	}
	_, csumOff, err := image.EFICertTableDirOffset("shim", data)
	if err != nil {
		t.Fatal(err)
	}
	// The checksum algorithm agrees with the signing tool's, which set it.
	if got, want := peChecksum(data, csumOff), binary.LittleEndian.Uint32(data[csumOff:]); want != 0 && got != want {
		t.Fatalf("PE checksum of the original shim: computed %#x, the file says %#x", got, want)
	}
	for _, keep := range []string{image.MicrosoftUEFICA2011, image.MicrosoftUEFICA2023} {
		out, err := StripSignatures("shim", data, keep)
		if err != nil {
			t.Fatal(err)
		}
		got, _, size, err := image.EFISignatures("stripped", out)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || !got[0].Valid() || got[0].CA != keep {
			t.Fatalf("keep %s: %d signatures left, first %+v", keep, len(got), got[0])
		}
		if int64(len(out)) >= int64(len(data)) || size%8 != 0 {
			t.Fatalf("keep %s: %d bytes (from %d), table of %d bytes", keep, len(out), len(data), size)
		}
		if peChecksum(out, csumOff) != binary.LittleEndian.Uint32(out[csumOff:]) {
			t.Fatalf("keep %s: checksum not updated", keep)
		}
	}
	if _, err := StripSignatures("shim", data, "Some Other CA"); err == nil {
		t.Fatal("stripping every signature was accepted")
	}
}

func TestShimInputs(t *testing.T) {
	data := readShim(t)
	c, err := image.CACertificate("shim", data, image.MicrosoftUEFICA2023)
	if err != nil {
		t.Fatal(err)
	}
	if c.Subject.CommonName != image.MicrosoftUEFICA2023 || !c.IsCA {
		t.Fatalf("CA certificate %q, IsCA %v", c.Subject, c.IsCA)
	}
	auto, latest, err := image.ShimSbatLevelPayloads("shim", data)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range [][]byte{auto, latest} {
		if !bytes.HasPrefix(p, []byte("sbat,1,")) || bytes.IndexByte(p, 0) >= 0 || !bytes.HasSuffix(p, []byte("\n")) {
			t.Fatalf("payload %q", p)
		}
	}
	if string(latest[7:17]) < string(auto[7:17]) {
		t.Fatalf("latest %q is older than automatic %q", latest, auto)
	}
}
