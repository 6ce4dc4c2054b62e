package image

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
)

func mustCheck(t *testing.T, bc *BootChain) *BootChainReport {
	t.Helper()
	r, err := CheckBootChain(bc)
	if err != nil {
		t.Fatalf("CheckBootChain: %v", err)
	}
	return r
}

func TestCheckBootChainTwoEntries(t *testing.T) {
	p := newTestPKI(t)
	bc := testChain(t, testShim(t, p, testShimSBAT, true, true, false), testGrub(t, p, testGrubSBAT, p.grub, p.debian))
	r := mustCheck(t, bc)
	if !r.Firmware2011 || !r.Firmware2023 || len(r.Warnings) != 0 || !r.GrubTrusted {
		t.Errorf("report %+v, warnings %q", r, r.Warnings)
	}
	if n := len(r.Shim.Signatures); n != 2 {
		t.Fatalf("%d shim signatures, want 2", n)
	}
	for i, want := range []struct{ signer, ca string }{
		{"Microsoft Windows UEFI Driver Publisher", MicrosoftUEFICA2011},
		{"Microsoft UEFI CA 2023 signer", MicrosoftUEFICA2023},
	} {
		s := r.Shim.Signatures[i]
		if s.SignerName() != want.signer || s.Issuer != want.ca || s.CA != want.ca || !s.Valid() || s.Entry != i+1 || s.Nested != 0 {
			t.Errorf("signature %d: signer %q issuer %q CA %q entry %d nested %d problem %v", i+1, s.SignerName(), s.Issuer, s.CA, s.Entry, s.Nested, s.Problem)
		}
		if len(s.Chain) != 2 || s.Chain[1].Subject.CommonName != want.ca {
			t.Errorf("signature %d: chain %v", i+1, chainNames(s.Chain))
		}
	}
	if g := r.Shim.SBAT; len(g) != 3 || g[1].String() != "shim,4" || g[2].Component != "shim.debian" || g[2].Version != "16.1" {
		t.Errorf("shim SBAT %+v", g)
	}
	if r.ShimLevels == nil || r.ShimLevels.Automatic.Date != "2025021800" || r.ShimLevels.Latest.Generation("grub.proxmox") != 2 {
		t.Errorf("shim levels %+v", r.ShimLevels)
	}
	text := strings.Join(r.Lines(), "\n")
	for _, want := range []string{
		"shim (shim-signed 1.0+test): signed by Microsoft Windows UEFI Driver Publisher (Microsoft Corporation UEFI CA 2011), Microsoft UEFI CA 2023 signer (Microsoft UEFI CA 2023)",
		"shim: SBAT shim,4 shim.debian,1 (latest known revocation: shim,4 of SbatLevel 2024010900): ok",
		"grub (grub-efi-amd64-signed): signed by Debian Secure Boot Signer 2022 - grub2 (Debian Secure Boot CA, built into shim)",
		"grub: SBAT grub,5 grub.debian,5 (latest known revocations: grub,5 of SbatLevel 2025021800, grub.debian,4 of SbatLevel 2023012900): ok",
		"shim applies SbatLevel 2025021800 (shim,4 grub,5) on every boot, 2025051000 (shim,4 grub,5 grub.proxmox,2) after mokutil --set-sbat-policy latest",
		"boots on firmware trusting: 2011 CA, 2023 CA",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("report lacks %q:\n%s", want, text)
		}
	}
}

// TestCheckBootChainNestedSignature: a second signature nested as the
// unauthenticated attribute 1.3.6.1.4.1.311.2.4.1 counts like a second
// table entry.
func TestCheckBootChainNestedSignature(t *testing.T) {
	p := newTestPKI(t)
	r := mustCheck(t, testChain(t, testShim(t, p, testShimSBAT, true, true, true), testGrub(t, p, testGrubSBAT, p.grub, p.debian)))
	if len(r.Shim.Signatures) != 2 || r.Shim.Signatures[1].Entry != 1 || r.Shim.Signatures[1].Nested != 1 {
		t.Fatalf("signatures %+v", r.Shim.Signatures)
	}
	if !r.Firmware2011 || !r.Firmware2023 || len(r.Warnings) != 0 {
		t.Errorf("2011 %v 2023 %v warnings %q", r.Firmware2011, r.Firmware2023, r.Warnings)
	}
}

func TestCheckBootChainOneCA(t *testing.T) {
	p := newTestPKI(t)
	grub := testGrub(t, p, testGrubSBAT, p.grub, p.debian)
	r := mustCheck(t, testChain(t, testShim(t, p, testShimSBAT, true, false, false), grub))
	if !r.Firmware2011 || r.Firmware2023 || len(r.Warnings) != 1 || !strings.Contains(r.Warnings[0], "2023-only firmware") || !strings.Contains(r.Warnings[0], "will refuse it") {
		t.Errorf("2011-only shim: 2011 %v 2023 %v warnings %q", r.Firmware2011, r.Firmware2023, r.Warnings)
	}
	if l := r.Lines(); !strings.Contains(strings.Join(l, "\n"), "boots on firmware trusting: 2011 CA\n") {
		t.Errorf("lines %q", l)
	}
	r = mustCheck(t, testChain(t, testShim(t, p, testShimSBAT, false, true, false), grub))
	if r.Firmware2011 || !r.Firmware2023 || len(r.Warnings) != 1 || !strings.Contains(r.Warnings[0], "2011-only firmware") {
		t.Errorf("2023-only shim: 2011 %v 2023 %v warnings %q", r.Firmware2011, r.Firmware2023, r.Warnings)
	}
}

func TestCheckBootChainUnsignedShimRefused(t *testing.T) {
	p := newTestPKI(t)
	bc := testChain(t, testShimUnsigned(p, testShimSBAT), testGrub(t, p, testGrubSBAT, p.grub, p.debian))
	r, err := CheckBootChain(bc)
	var ue *UntrustedError
	if !errors.As(err, &ue) || ue.Binary != "shim" || !errors.Is(err, ErrBootChainRefused) || r == nil {
		t.Fatalf("err %v, want an *UntrustedError for shim", err)
	}
	if !strings.Contains(err.Error(), "unsigned") || !strings.Contains(err.Error(), "fetch-bootchain.sh") {
		t.Errorf("message %q", err)
	}
}

// TestCheckBootChainChangedByteRefused: one changed code byte breaks both
// signatures (the image digest no longer matches).
func TestCheckBootChainChangedByteRefused(t *testing.T) {
	p := newTestPKI(t)
	shim := testShim(t, p, testShimSBAT, true, true, false)
	shim[0x400+17] ^= 1 // in .text
	_, err := CheckBootChain(testChain(t, shim, testGrub(t, p, testGrubSBAT, p.grub, p.debian)))
	var ue *UntrustedError
	if !errors.As(err, &ue) || ue.Binary != "shim" || !strings.Contains(err.Error(), "the file was changed after signing") {
		t.Fatalf("err %v", err)
	}
}

func TestCheckBootChainForeignGrubRefused(t *testing.T) {
	p := newTestPKI(t)
	_, err := CheckBootChain(testChain(t, testShim(t, p, testShimSBAT, true, true, false), testGrub(t, p, testGrubSBAT, p.stray, p.other)))
	var ue *UntrustedError
	if !errors.As(err, &ue) || ue.Binary != "grub" || !strings.Contains(err.Error(), `does not chain to "Debian Secure Boot CA" built into shim`) {
		t.Fatalf("err %v", err)
	}
}

func TestCheckBootChainRevokedSBAT(t *testing.T) {
	p := newTestPKI(t)
	cases := []struct {
		name, shimSBAT, grubSBAT string
		binary, component        string
		gen, req                 int
		level, pkg               string
	}{
		{"grub,4", testShimSBAT, strings.Replace(testGrubSBAT, "\ngrub,5,", "\ngrub,4,", 1), "grub", "grub", 4, 5, "2025021800", GrubPackage},
		{"grub.debian,3", testShimSBAT, strings.Replace(testGrubSBAT, "grub.debian,5,", "grub.debian,3,", 1), "grub", "grub.debian", 3, 4, "2023012900", GrubPackage},
		{"shim,3", strings.Replace(testShimSBAT, "\nshim,4,", "\nshim,3,", 1), testGrubSBAT, "shim", "shim", 3, 4, "2024010900", ShimPackage},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			bc := testChain(t, testShim(t, p, c.shimSBAT, true, true, false), testGrub(t, p, c.grubSBAT, p.grub, p.debian))
			r, err := CheckBootChain(bc)
			var se *SBATRevokedError
			if !errors.As(err, &se) || !errors.Is(err, ErrBootChainRefused) {
				t.Fatalf("err %v, want an *SBATRevokedError", err)
			}
			if se.Binary != c.binary || se.Component != c.component || se.Generation != c.gen || se.Required != c.req || se.Level != c.level || se.Package != c.pkg {
				t.Errorf("%+v", se)
			}
			msg := err.Error()
			for _, want := range []string{c.name, "is revoked", "SbatLevel " + c.level, "update " + c.pkg, "scripts/fetch-bootchain.sh " + bc.Dir} {
				if !strings.Contains(msg, want) {
					t.Errorf("message lacks %q: %s", want, msg)
				}
			}
			if r == nil || !strings.Contains(strings.Join(r.Lines(), "\n"), "REVOKED") {
				t.Errorf("report with the refusal: %v", r)
			}
		})
	}
}

// TestCheckBootChainShimLevelNewerThanTable: a requirement found only in
// shim's own .sbatlevel (a table older than the shim) is enforced too.
func TestCheckBootChainShimLevelNewerThanTable(t *testing.T) {
	p := newTestPKI(t)
	img := makePE(
		peSection{".text", bytes.Repeat([]byte{0xC3}, 4000)},
		peSection{".sbatlevel", sbatLevelSection("sbat,1,2025021800\nshim,4\ngrub,5\n", "sbat,1,2099010100\nshim,4\ngrub,6\n")},
		peSection{".vendor_cert", vendorCertSection(p.debian.cert)},
		peSection{".sbat", []byte(testShimSBAT)},
	)
	shim := attachSignatures(img, authenticodeSignedData(t, img, p.sig2011, p.ca2011), authenticodeSignedData(t, img, p.sig2023, p.ca2023))
	_, err := CheckBootChain(testChain(t, shim, testGrub(t, p, testGrubSBAT, p.grub, p.debian)))
	var se *SBATRevokedError
	if !errors.As(err, &se) || se.Level != "2099010100" || se.Required != 6 {
		t.Fatalf("err %v", err)
	}
}

// TestKnownSbatLevelsOrdered guards the table: dated, ascending, newest
// requiring shim,4 and grub,5 (SbatLevel_Variable.txt, 2025051000).
func TestKnownSbatLevelsOrdered(t *testing.T) {
	for i, l := range KnownSbatLevels {
		if len(l.Date) != 10 || (i > 0 && l.Date <= KnownSbatLevels[i-1].Date) {
			t.Errorf("level %d date %q out of order", i, l.Date)
		}
	}
	if l := LatestSbatLevel(); l.String() != "2025051000 (shim,4 grub,5 grub.proxmox,2)" {
		t.Errorf("latest %s", l)
	}
}

func TestParseSBAT(t *testing.T) {
	e, err := parseSBAT("x", ".sbat", []byte("sbat,1,SBAT Version,sbat,1,https://x\r\n\ngrub,12,FSF,grub,2.12,https://g\nshort,3\n\x00garbage"), 0x100)
	if err != nil || len(e) != 3 || e[1].Generation != 12 || e[1].URL != "https://g" || e[2].String() != "short,3" {
		t.Fatalf("%+v %v", e, err)
	}
	for _, bad := range []string{"", "\x00", "grub,1\n", "sbat,1\ngrub\n", "sbat,1\ngrub,x\n", "sbat,1\n,1\n", "sbat,1\ngrub,70000\n", "sbat,-1\n"} {
		_, err := parseSBAT("x.efi", ".sbat", []byte(bad), 0x100)
		var fe *EFIFormatError
		if !errors.As(err, &fe) || fe.File != "x.efi" || fe.Offset < 0x100 || !errors.Is(err, ErrBadEFIBinary) {
			t.Errorf("%q: %v, want an *EFIFormatError", bad, err)
		}
	}
}

// TestDamagedCertificateTable: each kind of damage is an *EFIFormatError
// naming the structure, offset and field.
func TestDamagedCertificateTable(t *testing.T) {
	p := newTestPKI(t)
	good := testShim(t, p, testShimSBAT, true, true, false)
	grub := testGrub(t, p, testGrubSBAT, p.grub, p.debian)
	dir := int(binary.LittleEndian.Uint32(good[0x3c:])) + 4 + 20 + 112 + 32
	tab := int(binary.LittleEndian.Uint32(good[dir:]))
	size := int(binary.LittleEndian.Uint32(good[dir+4:]))
	first := int(binary.LittleEndian.Uint32(good[tab:]))
	second := tab + (first+7)&^7
	put32 := func(b []byte, at, v int) { binary.LittleEndian.PutUint32(b[at:], uint32(v)) }
	cases := []struct {
		name      string
		mutate    func(b []byte) []byte
		structure string
		off       int
		field     string
	}{
		{"entry 2 dwLength 4", func(b []byte) []byte { put32(b, second, 4); return b }, "attribute certificate table entry 2", second, "dwLength"},
		{"entry 1 dwLength 0", func(b []byte) []byte { put32(b, tab, 0); return b }, "attribute certificate table entry 1", tab, "dwLength"},
		{"entry 1 past the table", func(b []byte) []byte { put32(b, tab, size+8); return b }, "attribute certificate table entry 1", tab, "dwLength"},
		{"entry 2 revision", func(b []byte) []byte { b[second+4] = 7; return b }, "attribute certificate table entry 2", second + 4, "wRevision"},
		{"table past the file", func(b []byte) []byte { put32(b, dir+4, size+64); return b }, "certificate table directory (DataDirectory[4])", dir, "Size"},
		{"table not at the end", func(b []byte) []byte { return append(b, make([]byte, 16)...) }, "certificate table directory (DataDirectory[4])", dir, "VirtualAddress"},
		{"truncated file", func(b []byte) []byte { return b[:len(b)-100] }, "certificate table directory (DataDirectory[4])", dir, "Size"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := c.mutate(append([]byte(nil), good...))
			_, err := CheckBootChain(testChain(t, b, grub))
			var fe *EFIFormatError
			if !errors.As(err, &fe) || !errors.Is(err, ErrBadEFIBinary) {
				t.Fatalf("err %v, want an *EFIFormatError", err)
			}
			if fe.Structure != c.structure || fe.Offset != int64(c.off) || fe.Field != c.field || fe.File != "shimx64.efi.signed" {
				t.Errorf("got %q at %#x field %q, want %q at %#x field %q", fe.Structure, fe.Offset, fe.Field, c.structure, c.off, c.field)
			}
			if msg := err.Error(); !strings.Contains(msg, "fetch-bootchain.sh") || !strings.HasPrefix(msg, "shim: shimx64.efi.signed: "+c.structure) {
				t.Errorf("message %q", msg)
			}
		})
	}
	// A garbage PKCS#7 body is not a format error of the table: that
	// signature is listed as invalid, and with none left shim is refused.
	b := append([]byte(nil), good...)
	for i := tab + 8; i < tab+first; i++ {
		b[i] = 0xFF
	}
	r, err := CheckBootChain(testChain(t, b, grub))
	if err != nil || r.Shim.Signatures[0].Problem == nil || r.Firmware2011 || !r.Firmware2023 {
		t.Errorf("garbage entry 1: %v %+v", err, r)
	}
}

func TestCheckBootChainNotPE(t *testing.T) {
	p := newTestPKI(t)
	_, err := CheckBootChain(testChain(t, []byte("#!/bin/sh\necho not shim\n"), testGrub(t, p, testGrubSBAT, p.grub, p.debian)))
	var fe *EFIFormatError
	if !errors.As(err, &fe) || fe.Structure != "DOS header" || fe.Field != "e_magic" {
		t.Fatalf("err %v", err)
	}
}

func TestCheckBootChainMissingSBAT(t *testing.T) {
	p := newTestPKI(t)
	img := makePE(peSection{".text", []byte{0xC3}})
	grub := attachSignatures(img, authenticodeSignedData(t, img, p.grub, p.debian))
	_, err := CheckBootChain(testChain(t, testShim(t, p, testShimSBAT, true, true, false), grub))
	var fe *EFIFormatError
	if !errors.As(err, &fe) || fe.Structure != ".sbat section" || !strings.HasPrefix(err.Error(), "grub: ") {
		t.Fatalf("err %v", err)
	}
}

// FuzzEFIBinary: no input makes the EFI binary parsers panic, and every
// error is an *EFIFormatError.
func FuzzEFIBinary(f *testing.F) {
	p := newTestPKI(f)
	f.Add(testShim(f, p, testShimSBAT, true, true, false))
	f.Add(testShim(f, p, testShimSBAT, true, true, true))
	f.Add(testGrub(f, p, testGrubSBAT, p.grub, p.debian))
	f.Add(makePE(peSection{".sbatlevel", sbatLevelSection("sbat,1,2025021800\n", "x")}))
	f.Fuzz(func(t *testing.T, data []byte) {
		check := func(err error) {
			var fe *EFIFormatError
			if err != nil && !errors.As(err, &fe) {
				t.Fatalf("untyped error %v", err)
			}
		}
		b, err := parseEFIBinary("fuzz.efi", data)
		check(err)
		if err != nil {
			return
		}
		sigs, err := b.signatures()
		check(err)
		for i := range sigs {
			_ = sigs[i].describe("")
		}
		sec, off, err := b.section(".sbat")
		check(err)
		if sec != nil {
			_, err = parseSBAT(b.name, ".sbat", sec, off)
			check(err)
		}
		if sec, off, err = b.section(".sbatlevel"); sec != nil {
			_, err = parseSbatLevelSection(b.name, sec, off)
			check(err)
		}
		if sec, off, err = b.section(".vendor_cert"); sec != nil {
			_, err = vendorCert(b.name, sec, off)
			check(err)
		}
	})
}
