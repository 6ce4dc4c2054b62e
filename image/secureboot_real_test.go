package image

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// The checks of CheckBootChain against tools we did not write: sbverify
// (sbsigntool) lists the Authenticode signatures, osslsigncode the
// nested ones, objdump (binutils) the PE sections and their bytes.

// sbvSignature is one "signature N" block of sbverify --list.
type sbvSignature struct {
	issuers  []string // CNs under "image signature issuers"
	subjects []string // CNs of the "subject:" lines of the certificates
}

var dnCN = regexp.MustCompile(`/CN=([^/]*)$`)

func cnOf(dn string) string {
	if m := dnCN.FindStringSubmatch(strings.TrimSpace(dn)); m != nil {
		return m[1]
	}
	return ""
}

func sbverifyList(t *testing.T, path string) []sbvSignature {
	t.Helper()
	out, err := exec.Command(needTool(t, "sbverify"), "--list", path).CombinedOutput()
	if err != nil {
		t.Fatalf("sbverify --list %s: %v\n%s", path, err, out)
	}
	var sigs []sbvSignature
	section := ""
	for _, l := range strings.Split(string(out), "\n") {
		switch {
		case strings.HasPrefix(l, "signature "):
			sigs = append(sigs, sbvSignature{})
		case strings.HasPrefix(l, "image signature issuers:"):
			section = "issuers"
		case strings.HasPrefix(l, "image signature certificates:"):
			section = "certs"
		case len(sigs) > 0 && section == "issuers" && strings.HasPrefix(l, " - "):
			sigs[len(sigs)-1].issuers = append(sigs[len(sigs)-1].issuers, cnOf(l[3:]))
		case len(sigs) > 0 && section == "certs" && strings.HasPrefix(l, " - subject:"):
			sigs[len(sigs)-1].subjects = append(sigs[len(sigs)-1].subjects, cnOf(strings.TrimPrefix(l, " - subject:")))
		}
	}
	return sigs
}

// objdumpSection returns a section's bytes as objdump -s prints them.
func objdumpSection(t *testing.T, path, name string) []byte {
	t.Helper()
	out, err := exec.Command(needTool(t, "objdump"), "-s", "-j", name, path).Output()
	if err != nil {
		t.Fatalf("objdump -s -j %s %s: %v", name, path, err)
	}
	// " e0000 73626174 2c312c53 42415420 56657273  sbat,1,SBAT Vers"
	var b []byte
	line := regexp.MustCompile(`^ ([0-9a-f]+) `)
	for _, l := range strings.Split(string(out), "\n") {
		m := line.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		start := len(m[0])
		h, err := hex.DecodeString(strings.ReplaceAll(l[start:min(start+35, len(l))], " ", ""))
		if err != nil {
			t.Fatalf("objdump line %q: %v", l, err)
		}
		b = append(b, h...)
	}
	if len(b) == 0 {
		t.Fatalf("objdump printed no %s section for %s:\n%s", name, path, out)
	}
	return b
}

// objdumpSectionOffset is the file offset of a section per objdump -h.
func objdumpSectionOffset(t *testing.T, path, name string) int64 {
	t.Helper()
	out, err := exec.Command(needTool(t, "objdump"), "-h", path).Output()
	if err != nil {
		t.Fatalf("objdump -h %s: %v", path, err)
	}
	for _, l := range strings.Split(string(out), "\n") {
		f := strings.Fields(l)
		if len(f) >= 6 && f[1] == name {
			off, err := strconv.ParseInt(f[5], 16, 64)
			if err != nil {
				t.Fatal(err)
			}
			return off
		}
	}
	t.Fatalf("objdump -h %s lists no %s", path, name)
	return 0
}

// objdumpSecurityDirectory is the attribute certificate table's file
// offset and size per objdump -p ("Entry 4 ... Security Directory").
func objdumpSecurityDirectory(t *testing.T, path string) (int64, int64) {
	t.Helper()
	out, err := exec.Command(needTool(t, "objdump"), "-p", path).Output()
	if err != nil {
		t.Fatalf("objdump -p %s: %v", path, err)
	}
	m := regexp.MustCompile(`(?m)^Entry 4 ([0-9a-f]+) ([0-9a-f]+) Security Directory`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("objdump -p %s: no Security Directory line", path)
	}
	off, _ := strconv.ParseInt(string(m[1]), 16, 64)
	size, _ := strconv.ParseInt(string(m[2]), 16, 64)
	return off, size
}

func sbatCSV(entries []SBATEntry) string {
	var b strings.Builder
	for _, e := range entries {
		b.WriteString(strings.Join([]string{e.Component, strconv.Itoa(e.Generation), e.Vendor, e.Package, e.Version, e.URL}, ",") + "\n")
	}
	return b.String()
}

// TestCheckBootChainReal: the report on Debian's chain says what sbverify
// and objdump say: shim's two signatures and their issuers, grub's, and
// the .sbat and .sbatlevel contents.
func TestCheckBootChainReal(t *testing.T) {
	bc := realBootChain(t)
	r := mustCheck(t, bc)
	for _, l := range r.Lines() {
		t.Log(l)
	}
	if !r.Firmware2011 || !r.Firmware2023 || !r.GrubTrusted || len(r.Warnings) != 0 {
		t.Errorf("2011 %v 2023 %v grub trusted %v warnings %q", r.Firmware2011, r.Firmware2023, r.GrubTrusted, r.Warnings)
	}
	for _, b := range []*EFIBinaryReport{&r.Shim, &r.Grub} {
		sbv := sbverifyList(t, b.Path)
		if len(sbv) != len(b.Signatures) {
			t.Fatalf("%s: sbverify lists %d signatures, we %d", b.Binary, len(sbv), len(b.Signatures))
		}
		for i, s := range b.Signatures {
			if !s.Valid() {
				t.Errorf("%s signature %d: %v", b.Binary, i+1, s.Problem)
			}
			if len(sbv[i].issuers) != 1 || sbv[i].issuers[0] != s.Issuer {
				t.Errorf("%s signature %d: issuer %q, sbverify %q", b.Binary, i+1, s.Issuer, sbv[i].issuers)
			}
			for _, name := range chainNames(s.Chain) {
				if !strings.Contains("\x00"+strings.Join(sbv[i].subjects, "\x00")+"\x00", "\x00"+name+"\x00") {
					t.Errorf("%s signature %d: certificate %q not among sbverify's %q", b.Binary, i+1, name, sbv[i].subjects)
				}
			}
		}
		raw := objdumpSection(t, b.Path, ".sbat")
		if i := bytes.IndexByte(raw, 0); i >= 0 {
			raw = raw[:i]
		}
		if got := sbatCSV(b.SBAT); got != string(raw) {
			t.Errorf("%s .sbat: we read\n%s\nobjdump shows\n%s", b.Binary, got, raw)
		}
	}
	// Debian 12's shim-signed 16.1: one signature per Microsoft CA.
	if s := r.Shim.Signatures; len(s) != 2 || s[0].CA != MicrosoftUEFICA2011 || s[1].CA != MicrosoftUEFICA2023 {
		t.Errorf("shim signatures: want the 2011 CA's then the 2023 CA's")
	}
	lv := objdumpSection(t, bc.Shim, ".sbatlevel")
	for _, l := range []SbatLevel{r.ShimLevels.Automatic, r.ShimLevels.Latest} {
		payload := "sbat,1," + l.Date + "\n"
		for _, e := range l.Entries {
			payload += e.String() + "\n"
		}
		if !bytes.Contains(lv, []byte(payload+"\x00")) {
			t.Errorf(".sbatlevel per objdump lacks %q", payload)
		}
	}
}

// realCopy copies a boot chain file into a temporary directory and
// returns the bytes and a BootChain using the copy in its place.
func realCopy(t *testing.T, bc *BootChain, which string) (*BootChain, []byte, string) {
	t.Helper()
	src := bc.Shim
	if which == "grub" {
		src = bc.Grub
	}
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), filepath.Base(src))
	c := *bc
	if which == "grub" {
		c.Grub = dst
	} else {
		c.Shim = dst
	}
	return &c, data, dst
}

// TestCheckBootChainRealOneSignature: Debian's shim without its second
// WIN_CERTIFICATE entry (sbverify then lists one signature, from the 2011
// CA) boots on 2011 firmware only, and the report says 2023-only
// firmware refuses it.
func TestCheckBootChainRealOneSignature(t *testing.T) {
	real := realBootChain(t)
	bc, data, path := realCopy(t, real, "shim")
	off, size := objdumpSecurityDirectory(t, real.Shim)
	first := int64(binary.LittleEndian.Uint32(data[off:]))
	if (first+7)&^7 >= size {
		t.Fatalf("shim's certificate table has one entry (%d of %d bytes): not Debian 12's shim-signed 16.1?", first, size)
	}
	keep := (first + 7) &^ 7
	data = data[:off+keep]
	dir := int64(binary.LittleEndian.Uint32(data[0x3c:])) + 4 + 20 + 112 + 4*8 // PE32+ DataDirectory[4]
	binary.LittleEndian.PutUint32(data[dir+4:], uint32(keep))
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	sbv := sbverifyList(t, path)
	if len(sbv) != 1 || len(sbv[0].issuers) != 1 || sbv[0].issuers[0] != MicrosoftUEFICA2011 {
		t.Fatalf("sbverify on the cut shim: %+v", sbv)
	}
	r, err := CheckBootChain(bc)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Shim.Signatures) != 1 || !r.Shim.Signatures[0].Valid() || !r.Firmware2011 || r.Firmware2023 {
		t.Errorf("signatures %+v, 2011 %v, 2023 %v", r.Shim.Signatures, r.Firmware2011, r.Firmware2023)
	}
	text := strings.Join(r.Lines(), "\n")
	if !strings.Contains(text, "WARNING: shim has no signature from the Microsoft UEFI CA 2023: 2023-only firmware") ||
		!strings.Contains(text, "will refuse it") || !strings.Contains(text, "boots on firmware trusting: 2011 CA\n") {
		t.Errorf("report:\n%s", text)
	}
}

// TestCheckBootChainRealRevokedSBAT: a copy of grub (or shim) whose .sbat
// says one generation less, edited in place (objdump then shows it), is
// refused with the component, both generations, the SbatLevel and the
// package to update. The edit also breaks the binary's signature.
func TestCheckBootChainRealRevokedSBAT(t *testing.T) {
	for _, c := range []struct {
		binary, from, to, level, pkg string
	}{
		{"grub", "\ngrub,5,", "\ngrub,4,", "2025021800", GrubPackage},
		{"shim", "\nshim,4,", "\nshim,3,", "2024010900", ShimPackage},
	} {
		t.Run(c.binary, func(t *testing.T) {
			real := realBootChain(t)
			bc, data, path := realCopy(t, real, c.binary)
			src := real.Shim
			if c.binary == "grub" {
				src = real.Grub
			}
			sec := objdumpSectionOffset(t, src, ".sbat")
			i := bytes.Index(data[sec:sec+4096], []byte(c.from))
			if i < 0 {
				t.Fatalf("%q not in %s's .sbat: the boot chain is not Debian 12's", c.from, c.binary)
			}
			copy(data[sec+int64(i):], c.to)
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			if got := objdumpSection(t, path, ".sbat"); !bytes.Contains(got, []byte(c.to)) {
				t.Fatalf("objdump does not see the edit:\n%s", got)
			}
			r, err := CheckBootChain(bc)
			var se *SBATRevokedError
			if !errors.As(err, &se) {
				t.Fatalf("err %v, want an *SBATRevokedError", err)
			}
			want := strings.Trim(c.to, "\n,")
			msg := err.Error()
			for _, w := range []string{c.binary + " " + filepath.Base(path) + ": SBAT " + want + " is revoked", "SbatLevel " + c.level + " requires " + strings.Trim(c.from, "\n,"),
				"update " + c.pkg, "run scripts/fetch-bootchain.sh " + bc.Dir + " again"} {
				if !strings.Contains(msg, w) {
					t.Errorf("message lacks %q:\n%s", w, msg)
				}
			}
			var ue *UntrustedError
			if !errors.As(err, &ue) || ue.Binary != c.binary || !strings.Contains(msg, "the file was changed after signing") {
				t.Errorf("the edited %s's signature should no longer hold: %v", c.binary, err)
			}
			if r == nil || !strings.Contains(strings.Join(r.Lines(), "\n"), "REVOKED ("+want) {
				t.Errorf("report %v", r)
			}
		})
	}
}

// TestCheckBootChainRealDamagedTable: damage to Debian shim's certificate
// table (located with objdump -p) is an *EFIFormatError at that place.
func TestCheckBootChainRealDamagedTable(t *testing.T) {
	real := realBootChain(t)
	off, size := objdumpSecurityDirectory(t, real.Shim)
	for _, c := range []struct {
		name   string
		field  string
		mutate func(data []byte, second int64) int64
	}{
		{"dwLength", "dwLength", func(d []byte, s int64) int64 { binary.LittleEndian.PutUint32(d[s:], 3); return s }},
		{"dwLength past the table", "dwLength", func(d []byte, s int64) int64 {
			binary.LittleEndian.PutUint32(d[s:], uint32(off+size-s+8))
			return s
		}},
		{"wRevision", "wRevision", func(d []byte, s int64) int64 { d[s+5] = 0x99; return s + 4 }},
	} {
		t.Run(c.name, func(t *testing.T) {
			bc, data, path := realCopy(t, real, "shim")
			second := off + (int64(binary.LittleEndian.Uint32(data[off:]))+7)&^7
			at := c.mutate(data, second)
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := CheckBootChain(bc)
			var fe *EFIFormatError
			if !errors.As(err, &fe) || fe.Structure != "attribute certificate table entry 2" || fe.Offset != at || fe.Field != c.field {
				t.Fatalf("err %v, want an *EFIFormatError on entry 2 at %#x, field %s", err, at, c.field)
			}
		})
	}
}

// TestSyntheticShimSbverify: sbverify accepts the test signatures, so the
// Authenticode digest and SignedData the unit tests build (and this
// package checks) are the real format; after one changed byte sbverify
// and CheckBootChain both reject the file. (sbverify --cert is no witness
// of which CA a shim chains to: it accepted an unrelated certificate for
// a SignedData that carries its CA's certificate.)
func TestSyntheticShimSbverify(t *testing.T) {
	sbverify := needTool(t, "sbverify")
	p := newTestPKI(t)
	dir := t.TempDir()
	shim := filepath.Join(dir, "shim.efi")
	data := testShim(t, p, testShimSBAT, true, true, false)
	if err := os.WriteFile(shim, data, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, ca := range []*testCA{p.ca2011, p.ca2023} {
		pemFile := filepath.Join(dir, ca.cert.Subject.CommonName+".pem")
		os.WriteFile(pemFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.cert.Raw}), 0o644)
		if out, err := exec.Command(sbverify, "--cert", pemFile, shim).CombinedOutput(); err != nil || !strings.Contains(string(out), "Signature verification OK") {
			t.Errorf("sbverify --cert %s: %v\n%s", ca.cert.Subject.CommonName, err, out)
		}
	}
	sec := objdumpSectionOffset(t, shim, ".text")
	data[sec+1] ^= 0x40
	if err := os.WriteFile(shim, data, 0o644); err != nil {
		t.Fatal(err)
	}
	pemFile := filepath.Join(dir, MicrosoftUEFICA2011+".pem")
	if out, err := exec.Command(sbverify, "--cert", pemFile, shim).CombinedOutput(); err == nil || !strings.Contains(string(out), "Image fails hash check") {
		t.Errorf("sbverify accepts the changed file: %v\n%s", err, out)
	}
	r, err := CheckBootChain(testChain(t, data, testGrub(t, p, testGrubSBAT, p.grub, p.debian)))
	if !errors.Is(err, ErrBootChainRefused) || r.Shim.Signatures[0].Valid() || r.Shim.Signatures[1].Valid() {
		t.Errorf("changed shim: %v", err)
	}
}

// TestSyntheticNestedOsslsigncode: osslsigncode reads the nested form of
// the second signature as this package does (signature index 1, same
// signer) and computes the same image digest.
func TestSyntheticNestedOsslsigncode(t *testing.T) {
	tool := needTool(t, "osslsigncode")
	p := newTestPKI(t)
	path := filepath.Join(t.TempDir(), "shim.efi")
	if err := os.WriteFile(path, testShim(t, p, testShimSBAT, true, true, true), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _ := exec.Command(tool, "verify", "-in", path).CombinedOutput() // fails: test root not trusted
	text := string(out)
	for _, want := range []string{"Signature Index: 1", "Subject: /O=Test/CN=Microsoft Windows UEFI Driver Publisher", "Subject: /O=Test/CN=Microsoft UEFI CA 2023 signer"} {
		if !strings.Contains(text, want) {
			t.Errorf("osslsigncode lacks %q:\n%s", want, text)
		}
	}
	cur := regexp.MustCompile(`Current message digest\s*: ([0-9A-F]+)`).FindAllStringSubmatch(text, -1)
	calc := regexp.MustCompile(`Calculated message digest\s*: ([0-9A-F]+)`).FindAllStringSubmatch(text, -1)
	if len(cur) != 2 || len(calc) != 2 || cur[0][1] != calc[0][1] || cur[1][1] != calc[1][1] {
		t.Errorf("osslsigncode digests: current %v calculated %v", cur, calc)
	}
	r, err := CheckBootChain(testChain(t, mustRead(t, path), testGrub(t, p, testGrubSBAT, p.grub, p.debian)))
	if err != nil || len(r.Shim.Signatures) != 2 || r.Shim.Signatures[1].Nested != 1 || r.Shim.Signatures[1].SignerName() != "Microsoft UEFI CA 2023 signer" {
		t.Errorf("%v %+v", err, r)
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
