package image

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"debug/pe"
	"encoding/asn1"
	"encoding/binary"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/smallstep/pkcs7"
)

// Synthetic EFI binaries and a test PKI whose authorities carry the
// Microsoft and Debian names, for tests that do not need the real boot
// chain (and as fuzz seeds). The real chain is checked against sbverify
// and objdump in secureboot_real_test.go.

type peSection struct {
	name string
	data []byte
}

func align(n, a int) int { return (n + a - 1) / a * a }

// makePE lays out a PE32+ EFI application with the given sections.
// Names longer than 8 bytes go to a COFF string table after the sections
// ("/4" in the header), as GNU ld writes .sbatlevel and .vendor_cert.
func makePE(secs ...peSection) []byte {
	var strtab bytes.Buffer
	strtab.Write([]byte{0, 0, 0, 0})
	const fileAlign, sectAlign = 0x200, 0x1000
	hdrLen := 0x40 + 4 + 20 + 240 + 40*len(secs)
	sizeOfHeaders := align(hdrLen, fileAlign)
	var hdrs []pe.SectionHeader32
	var body bytes.Buffer
	raw, va := sizeOfHeaders, sectAlign
	for _, s := range secs {
		var name [8]uint8
		copy(name[:], s.name)
		if len(s.name) > 8 {
			name = [8]uint8{}
			copy(name[:], fmt.Sprintf("/%d", strtab.Len()))
			strtab.WriteString(s.name + "\x00")
		}
		n := align(len(s.data), fileAlign)
		hdrs = append(hdrs, pe.SectionHeader32{Name: name, VirtualSize: uint32(len(s.data)), VirtualAddress: uint32(va),
			SizeOfRawData: uint32(n), PointerToRawData: uint32(raw), Characteristics: 0x40000040})
		body.Write(s.data)
		body.Write(make([]byte, n-len(s.data)))
		raw += n
		va += align(len(s.data), sectAlign)
	}
	oh := pe.OptionalHeader64{Magic: 0x20b, AddressOfEntryPoint: sectAlign, ImageBase: 0, SectionAlignment: sectAlign,
		FileAlignment: fileAlign, SizeOfImage: uint32(va), SizeOfHeaders: uint32(sizeOfHeaders), Subsystem: 10, NumberOfRvaAndSizes: 16}
	var b bytes.Buffer
	dos := make([]byte, 0x40)
	copy(dos, "MZ")
	binary.LittleEndian.PutUint32(dos[0x3c:], 0x40)
	b.Write(dos)
	b.WriteString("PE\x00\x00")
	fh := pe.FileHeader{Machine: pe.IMAGE_FILE_MACHINE_AMD64, NumberOfSections: uint16(len(secs)),
		SizeOfOptionalHeader: 240, Characteristics: 0x2022}
	if strtab.Len() > 4 {
		fh.PointerToSymbolTable = uint32(raw)
	}
	binary.Write(&b, binary.LittleEndian, fh)
	binary.Write(&b, binary.LittleEndian, oh)
	for _, h := range hdrs {
		binary.Write(&b, binary.LittleEndian, h)
	}
	b.Write(make([]byte, sizeOfHeaders-b.Len()))
	b.Write(body.Bytes())
	if strtab.Len() > 4 {
		st := strtab.Bytes()
		binary.LittleEndian.PutUint32(st, uint32(len(st)))
		b.Write(st)
		b.Write(make([]byte, align(b.Len(), 8)-b.Len()))
	}
	return b.Bytes()
}

type testCA struct {
	cert *x509.Certificate
	key  crypto.Signer
}

var testSerial int64 = 100

// newTestCert makes a certificate named cn, signed by parent (self-signed
// when parent is nil).
func newTestCert(t testing.TB, cn string, parent *testCA, isCA bool) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	testSerial++
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(testSerial), Subject: pkix.Name{CommonName: cn, Organization: []string{"Test"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), BasicConstraintsValid: true, IsCA: isCA,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign}
	pcert, pkey := tmpl, crypto.Signer(key)
	if parent != nil {
		pcert, pkey = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, pcert, key.Public(), pkey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: c, key: key}
}

// testPKI has signers under CAs named like Microsoft's two UEFI CAs and
// like Debian's, and one under an unrelated CA.
type testPKI struct {
	ca2011, ca2023, debian, other *testCA
	sig2011, sig2023, grub, stray *testCA
}

func newTestPKI(t testing.TB) *testPKI {
	root := newTestCert(t, "Test Root", nil, true)
	p := &testPKI{
		ca2011: newTestCert(t, MicrosoftUEFICA2011, root, true),
		ca2023: newTestCert(t, MicrosoftUEFICA2023, root, true),
		debian: newTestCert(t, "Debian Secure Boot CA", nil, true),
		other:  newTestCert(t, "Other Secure Boot CA", nil, true),
	}
	p.sig2011 = newTestCert(t, "Microsoft Windows UEFI Driver Publisher", p.ca2011, false)
	p.sig2023 = newTestCert(t, "Microsoft UEFI CA 2023 signer", p.ca2023, false)
	p.grub = newTestCert(t, "Debian Secure Boot Signer 2022 - grub2", p.debian, false)
	p.stray = newTestCert(t, "Other Signer", p.other, false)
	return p
}

// authenticodeSignedData signs img's Authenticode SHA-256 digest as
// signer (its issuer's certificate included), nesting extra signatures
// as the unauthenticated attribute 1.3.6.1.4.1.311.2.4.1.
func authenticodeSignedData(t testing.TB, img []byte, signer, issuer *testCA, nested ...[]byte) []byte {
	t.Helper()
	b, err := parseEFIBinary("test.efi", img)
	if err != nil {
		t.Fatal(err)
	}
	digest, err := b.authenticodeDigest(crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	spcData, _ := asn1.Marshal(struct {
		Type  asn1.ObjectIdentifier
		Value asn1.RawValue
	}{oidSpcPEImageData, asn1.RawValue{FullBytes: spcPEImageData()}})
	digestInfo, _ := asn1.Marshal(struct {
		Algorithm pkix.AlgorithmIdentifier
		Digest    []byte
	}{pkix.AlgorithmIdentifier{Algorithm: pkcs7.OIDDigestAlgorithmSHA256, Parameters: asn1.NullRawValue}, digest})
	sd, err := pkcs7.NewSignedData(append(spcData, digestInfo...))
	if err != nil {
		t.Fatal(err)
	}
	// Authenticode carries SpcIndirectDataContent as a SEQUENCE, not as
	// the OCTET STRING NewSignedData makes; the message digest is over the
	// SEQUENCE's contents either way.
	seq, _ := asn1.Marshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSequence, IsCompound: true, Bytes: append(spcData, digestInfo...)})
	sd.GetSignedData().ContentInfo.ContentType = oidSpcIndirectData
	sd.GetSignedData().ContentInfo.Content = asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: seq}
	sd.SetDigestAlgorithm(pkcs7.OIDDigestAlgorithmSHA256)
	var cfg pkcs7.SignerInfoConfig
	for _, n := range nested {
		cfg.ExtraUnsignedAttributes = append(cfg.ExtraUnsignedAttributes, pkcs7.Attribute{Type: oidNestedSignature, Value: asn1.RawValue{FullBytes: n}})
	}
	if err := sd.AddSignerChain(signer.cert, signer.key, []*x509.Certificate{issuer.cert}, cfg); err != nil {
		t.Fatal(err)
	}
	der, err := sd.Finish()
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// spcPEImageData is SpcPeImageData as signing tools write it: no flags,
// file = SpcLink.file = SpcString.unicode "<<<Obsolete>>>".
func spcPEImageData() []byte {
	var bmp []byte
	for _, c := range "<<<Obsolete>>>" {
		bmp = append(bmp, 0, byte(c))
	}
	unicode := append([]byte{0x80, byte(len(bmp))}, bmp...)
	file := append([]byte{0xA2, byte(len(unicode))}, unicode...)
	link := append([]byte{0xA0, byte(len(file))}, file...)
	body := append([]byte{0x03, 0x01, 0x00}, link...)
	return append([]byte{0x30, byte(len(body))}, body...)
}

// attachSignatures appends an attribute certificate table with one
// WIN_CERTIFICATE entry per SignedData (each padded to 8 bytes) and
// points DataDirectory[4] at it.
func attachSignatures(img []byte, sigs ...[]byte) []byte {
	out := append([]byte(nil), img...)
	for len(out)%8 != 0 {
		out = append(out, 0)
	}
	start := len(out)
	for _, s := range sigs {
		var h [8]byte
		binary.LittleEndian.PutUint32(h[:], uint32(8+len(s)))
		binary.LittleEndian.PutUint16(h[4:], winCertRevision2)
		binary.LittleEndian.PutUint16(h[6:], winCertTypePKCS7)
		out = append(out, h[:]...)
		out = append(out, s...)
		for len(out)%8 != 0 {
			out = append(out, 0)
		}
	}
	dir := int(binary.LittleEndian.Uint32(out[0x3c:])) + 4 + 20 + 112 + 4*8
	binary.LittleEndian.PutUint32(out[dir:], uint32(start))
	binary.LittleEndian.PutUint32(out[dir+4:], uint32(len(out)-start))
	return out
}

const (
	testShimSBAT = "sbat,1,SBAT Version,sbat,1,https://github.com/rhboot/shim/blob/main/SBAT.md\nshim,4,UEFI shim,shim,1,https://github.com/rhboot/shim\nshim.debian,1,Debian,shim,16.1,https://tracker.debian.org/pkg/shim\n"
	testGrubSBAT = "sbat,1,SBAT Version,sbat,1,https://github.com/rhboot/shim/blob/main/SBAT.md\ngrub,5,Free Software Foundation,grub,2.06,https://www.gnu.org/software/grub/\ngrub.debian,5,Debian,grub2,2.06-13+deb12u2,https://tracker.debian.org/pkg/grub2\n"
)

// sbatLevelSection builds a .sbatlevel section from two payloads.
func sbatLevelSection(automatic, latest string) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, uint32(0))
	binary.Write(&b, binary.LittleEndian, uint32(8))
	binary.Write(&b, binary.LittleEndian, uint32(8+len(automatic)+1))
	b.WriteString(automatic + "\x00" + latest + "\x00")
	return b.Bytes()
}

// vendorCertSection builds a .vendor_cert section holding cert.
func vendorCertSection(cert *x509.Certificate) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, []uint32{uint32(len(cert.Raw)), 0, 16, uint32(16 + len(cert.Raw))})
	b.Write(cert.Raw)
	return b.Bytes()
}

// testShimUnsigned is a shim-like binary: code, .sbat, .sbatlevel and the
// vendor certificate.
func testShimUnsigned(p *testPKI, sbat string) []byte {
	return makePE(
		peSection{".text", bytes.Repeat([]byte{0xC3, 0x90, 0x55}, 3000)},
		peSection{".sbatlevel", sbatLevelSection("sbat,1,2025021800\nshim,4\ngrub,5\n", "sbat,1,2025051000\nshim,4\ngrub,5\ngrub.proxmox,2\n")},
		peSection{".vendor_cert", vendorCertSection(p.debian.cert)},
		peSection{".sbat", []byte(sbat)},
	)
}

func testGrubUnsigned(sbat string) []byte {
	return makePE(peSection{".text", bytes.Repeat([]byte{0x48, 0x31, 0xC0}, 5000)}, peSection{".sbat", []byte(sbat)})
}

// testShim signs shim with separate WIN_CERTIFICATE entries (as Debian's
// shim-signed does); with nest the 2023 signature is nested in the 2011
// one instead.
func testShim(t testing.TB, p *testPKI, sbat string, with2011, with2023, nest bool) []byte {
	img := testShimUnsigned(p, sbat)
	var sigs [][]byte
	switch {
	case with2011 && with2023 && nest:
		inner := authenticodeSignedData(t, img, p.sig2023, p.ca2023)
		sigs = append(sigs, authenticodeSignedData(t, img, p.sig2011, p.ca2011, inner))
	default:
		if with2011 {
			sigs = append(sigs, authenticodeSignedData(t, img, p.sig2011, p.ca2011))
		}
		if with2023 {
			sigs = append(sigs, authenticodeSignedData(t, img, p.sig2023, p.ca2023))
		}
	}
	return attachSignatures(img, sigs...)
}

func testGrub(t testing.TB, p *testPKI, sbat string, signer, issuer *testCA) []byte {
	img := testGrubUnsigned(sbat)
	return attachSignatures(img, authenticodeSignedData(t, img, signer, issuer))
}

// testChain writes shim and grub into a directory and returns a BootChain
// naming them (CheckBootChain reads only these).
func testChain(t testing.TB, shim, grub []byte) *BootChain {
	t.Helper()
	dir := t.TempDir()
	bc := &BootChain{Dir: dir, Shim: filepath.Join(dir, "shimx64.efi.signed"), Grub: filepath.Join(dir, "grubx64.efi.signed"),
		Manifest: map[string]string{"package.shim-signed": "1.0+test sha256:00"}}
	if err := os.WriteFile(bc.Shim, shim, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bc.Grub, grub, 0o644); err != nil {
		t.Fatal(err)
	}
	return bc
}
