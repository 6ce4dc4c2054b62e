package image

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"debug/pe"
	"encoding/asn1"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/smallstep/pkcs7"
)

// MaxEFIBinary is the largest EFI binary (shim, grub) the boot chain check
// reads whole. Debian's shim is about 1 MiB and its grub about 4 MiB.
const MaxEFIBinary = 64 << 20

// ErrBadEFIBinary matches (errors.Is) every *EFIFormatError.
var ErrBadEFIBinary = errors.New("malformed EFI binary")

// EFIFormatError reports a PE/COFF structure of an EFI binary that breaks
// its format, in the manner of debug/elf.FormatError: which file, which
// structure, the file offset, which field and what is wrong.
type EFIFormatError struct {
	File      string // base name of the binary, e.g. "shimx64.efi.signed"
	Structure string // e.g. "attribute certificate table entry 2", ".sbat section"
	Offset    int64  // file offset of the structure or field, -1 when none
	Field     string // e.g. "dwLength", "" when the structure as a whole is wrong
	Msg       string
}

func (e *EFIFormatError) Error() string {
	s := e.File + ": " + e.Structure
	if e.Offset >= 0 {
		s += fmt.Sprintf(" at offset %#x", e.Offset)
	}
	if e.Field != "" {
		s += ", field " + e.Field
	}
	return s + ": " + e.Msg
}

// Is makes errors.Is(err, ErrBadEFIBinary) true for an *EFIFormatError.
func (e *EFIFormatError) Is(target error) bool { return target == ErrBadEFIBinary }

func efiErr(file, structure string, off int64, field, format string, a ...any) *EFIFormatError {
	return &EFIFormatError{File: file, Structure: structure, Offset: off, Field: field, Msg: fmt.Sprintf(format, a...)}
}

// Names of the Microsoft certificate authorities that sign shim. Firmware
// holds one or both in its db.
const (
	MicrosoftUEFICA2011 = "Microsoft Corporation UEFI CA 2011"
	MicrosoftUEFICA2023 = "Microsoft UEFI CA 2023"
)

// WIN_CERTIFICATE constants (Microsoft PE/COFF specification, "The
// Attribute Certificate Table (Image Only)").
const (
	winCertRevision1        = 0x0100
	winCertRevision2        = 0x0200
	winCertTypePKCS7        = 0x0002
	winCertHeaderLen        = 8
	certTableDirectoryIndex = 4
	maxCertificateEntries   = 64 // bounds on hostile input
	maxNestedSignatures     = 16
)

// Object identifiers of Authenticode (Microsoft's "Windows Authenticode
// Portable Executable Signature Format").
var (
	oidSpcIndirectData = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 2, 1, 4}
	oidSpcPEImageData  = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 2, 1, 15}
	oidNestedSignature = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 2, 4, 1}
	oidSignedData      = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
	hashByOID          = map[string]crypto.Hash{"1.3.14.3.2.26": crypto.SHA1, "2.16.840.1.101.3.4.2.1": crypto.SHA256, "2.16.840.1.101.3.4.2.2": crypto.SHA384, "2.16.840.1.101.3.4.2.3": crypto.SHA512}
)

// Signature is one Authenticode signature of an EFI binary.
type Signature struct {
	Entry  int   // 1-based WIN_CERTIFICATE entry of the attribute certificate table
	Nested int   // 0 for the entry's own signature, n for its n-th nested signature
	Offset int64 // file offset of the WIN_CERTIFICATE entry
	// Signer is the signing certificate; Chain is Signer followed by the
	// certificates of the SignedData that issued it, each checked
	// cryptographically against the one below.
	Signer *x509.Certificate
	Chain  []*x509.Certificate
	// Issuer is the common name of the signer's issuer, the authority
	// named in the SignerInfo (for shim, a Microsoft UEFI CA, whose
	// certificate firmware holds in db).
	Issuer string
	// CA is MicrosoftUEFICA2011 or MicrosoftUEFICA2023 when the chain
	// names that authority (as Issuer or as a certificate in Chain), else "".
	CA     string
	Digest crypto.Hash // digest algorithm of the image hash
	// Problem says why the signature does not hold for this file (nil when
	// it does): a malformed SignedData, an image digest that is not this
	// file's, or a signature that does not verify.
	Problem error
}

// Valid reports whether the signature is over this very file and verifies.
func (s *Signature) Valid() bool { return s.Problem == nil && s.Signer != nil }

// SignerName is the common name of the signing certificate (or its
// subject when it has no common name).
func (s *Signature) SignerName() string {
	if s.Signer == nil {
		return "(no signer certificate)"
	}
	return commonName(s.Signer.Subject)
}

func commonName(n pkix.Name) string {
	if n.CommonName != "" {
		return n.CommonName
	}
	return n.String()
}

// efiBinary is a parsed EFI binary: its bytes, PE file and layout.
type efiBinary struct {
	name     string
	data     []byte
	file     *pe.File
	optOff   int64 // file offset of the optional header
	pe32plus bool
	certOff  int64 // attribute certificate table: file offset and size
	certSize int64
	sections []*pe.Section
}

// parseEFIBinary parses the PE/COFF headers of data with debug/pe and
// locates the attribute certificate table. name is used in errors.
func parseEFIBinary(name string, data []byte) (b *efiBinary, err error) {
	defer func() {
		if r := recover(); r != nil { // debug/pe must not take the build down
			b, err = nil, efiErr(name, "PE/COFF headers", -1, "", "the PE parser failed: %v", r)
		}
	}()
	if len(data) < 0x40 || data[0] != 'M' || data[1] != 'Z' {
		return nil, efiErr(name, "DOS header", 0, "e_magic", "not an EFI binary (no MZ signature)")
	}
	peOff := int64(binary.LittleEndian.Uint32(data[0x3c:]))
	if peOff+4+20+2 > int64(len(data)) {
		return nil, efiErr(name, "DOS header", 0x3c, "e_lfanew", "PE header offset %#x is past the end of the %d-byte file", peOff, len(data))
	}
	f, err := pe.NewFile(bytes.NewReader(data))
	if err != nil {
		return nil, efiErr(name, "PE/COFF headers", peOff, "", "%v", err)
	}
	b = &efiBinary{name: name, data: data, file: f, optOff: peOff + 4 + 20, sections: f.Sections}
	var dirs []pe.DataDirectory
	var numDirs uint32
	switch oh := f.OptionalHeader.(type) {
	case *pe.OptionalHeader64:
		b.pe32plus = true
		dirs, numDirs = oh.DataDirectory[:], oh.NumberOfRvaAndSizes
	case *pe.OptionalHeader32:
		dirs, numDirs = oh.DataDirectory[:], oh.NumberOfRvaAndSizes
	default:
		return nil, efiErr(name, "PE optional header", b.optOff, "", "missing")
	}
	if numDirs <= certTableDirectoryIndex {
		return b, nil // no certificate table directory: unsigned
	}
	dirOff := b.certDirOffset()
	if dirOff+8 > int64(len(data)) {
		return nil, efiErr(name, "PE optional header", dirOff, "DataDirectory[4]", "certificate table directory is past the end of the file")
	}
	d := dirs[certTableDirectoryIndex]
	b.certOff, b.certSize = int64(d.VirtualAddress), int64(d.Size)
	if b.certSize == 0 {
		b.certOff = 0
		return b, nil
	}
	if b.certOff+b.certSize > int64(len(data)) || b.certOff < 0 {
		return nil, efiErr(name, "certificate table directory (DataDirectory[4])", dirOff, "Size",
			"table at %#x of %d bytes runs past the end of the %d-byte file", b.certOff, b.certSize, len(data))
	}
	if b.certOff+b.certSize != int64(len(data)) {
		return nil, efiErr(name, "certificate table directory (DataDirectory[4])", dirOff, "VirtualAddress",
			"table at %#x of %d bytes does not end at the end of the %d-byte file, where signing tools put it", b.certOff, b.certSize, len(data))
	}
	return b, nil
}

// certDirOffset is the file offset of the certificate table's data
// directory entry (DataDirectory[4]) in the optional header.
func (b *efiBinary) certDirOffset() int64 {
	dd := b.optOff + 96 // data directories of PE32
	if b.pe32plus {
		dd = b.optOff + 112
	}
	return dd + certTableDirectoryIndex*8
}

// section returns the contents of the named section, cut to its virtual
// size (the file may pad it with zeros), or nil when there is none.
func (b *efiBinary) section(name string) (data []byte, off int64, err error) {
	for _, s := range b.sections {
		if s.Name != name {
			continue
		}
		off = int64(s.Offset)
		n := int64(s.Size)
		if s.VirtualSize != 0 && int64(s.VirtualSize) < n {
			n = int64(s.VirtualSize)
		}
		if off+n > int64(len(b.data)) {
			return nil, off, efiErr(b.name, name+" section", off, "SizeOfRawData", "%d bytes run past the end of the %d-byte file", n, len(b.data))
		}
		return b.data[off : off+n], off, nil
	}
	return nil, -1, nil
}

// authenticodeDigest hashes the file as Authenticode does: the headers
// without the checksum and the certificate table directory entry, the
// sections in file order, then the rest of the file before the
// certificate table.
func (b *efiBinary) authenticodeDigest(h crypto.Hash) ([]byte, error) {
	if !h.Available() {
		return nil, fmt.Errorf("digest algorithm %v is not available", h)
	}
	var hdrSize int64
	switch oh := b.file.OptionalHeader.(type) {
	case *pe.OptionalHeader64:
		hdrSize = int64(oh.SizeOfHeaders)
	case *pe.OptionalHeader32:
		hdrSize = int64(oh.SizeOfHeaders)
	}
	csum := b.optOff + 64
	dir := b.certDirOffset()
	if hdrSize < dir+8 || hdrSize > int64(len(b.data)) {
		return nil, efiErr(b.name, "PE optional header", b.optOff+60, "SizeOfHeaders", "%d does not cover the headers (%d bytes) within the %d-byte file", hdrSize, dir+8, len(b.data))
	}
	d := h.New()
	d.Write(b.data[:csum])
	d.Write(b.data[csum+4 : dir])
	d.Write(b.data[dir+8 : hdrSize])
	secs := append([]*pe.Section(nil), b.sections...)
	sort.SliceStable(secs, func(i, j int) bool { return secs[i].Offset < secs[j].Offset })
	sum := hdrSize
	for _, s := range secs {
		if s.Size == 0 {
			continue
		}
		off, n := int64(s.Offset), int64(s.Size)
		if off+n > int64(len(b.data)) {
			return nil, efiErr(b.name, "section "+s.Name, off, "SizeOfRawData", "%d bytes run past the end of the %d-byte file", n, len(b.data))
		}
		d.Write(b.data[off : off+n])
		sum += n
	}
	end := int64(len(b.data)) - b.certSize
	if sum < end {
		d.Write(b.data[sum:end])
	}
	return d.Sum(nil), nil
}

// signatures reads every Authenticode signature of the binary: each
// WIN_CERTIFICATE entry of the attribute certificate table (entries start
// on 8-byte boundaries) and the signatures nested in each as the
// unauthenticated attribute 1.3.6.1.4.1.311.2.4.1. A malformed table is an
// *EFIFormatError; a malformed or non-verifying signature is listed with
// its Problem.
func (b *efiBinary) signatures() ([]Signature, error) {
	var out []Signature
	if b.certSize == 0 {
		return nil, nil
	}
	digests := map[crypto.Hash][]byte{}
	end := b.certOff + b.certSize
	n := 0
	for off := b.certOff; end-off >= winCertHeaderLen; {
		n++
		what := fmt.Sprintf("attribute certificate table entry %d", n)
		if n > maxCertificateEntries {
			return nil, efiErr(b.name, what, off, "", "more than %d entries", maxCertificateEntries)
		}
		length := int64(binary.LittleEndian.Uint32(b.data[off:]))
		rev := binary.LittleEndian.Uint16(b.data[off+4:])
		typ := binary.LittleEndian.Uint16(b.data[off+6:])
		if length < winCertHeaderLen {
			if length == 0 && allZero(b.data[off:end]) {
				break // zero padding after the last entry
			}
			return nil, efiErr(b.name, what, off, "dwLength", "%d is shorter than the %d-byte WIN_CERTIFICATE header", length, winCertHeaderLen)
		}
		if off+length > end {
			return nil, efiErr(b.name, what, off, "dwLength", "%d bytes run past the end of the table at %#x", length, end)
		}
		if rev != winCertRevision2 && rev != winCertRevision1 {
			return nil, efiErr(b.name, what, off+4, "wRevision", "%#04x is neither WIN_CERT_REVISION_1_0 nor 2_0", rev)
		}
		body := b.data[off+winCertHeaderLen : off+length]
		if typ != winCertTypePKCS7 {
			out = append(out, Signature{Entry: n, Offset: off, Problem: fmt.Errorf("certificate type %#04x is not PKCS#7 SignedData (WIN_CERT_TYPE_PKCS_SIGNED_DATA)", typ)})
		} else {
			sigs := b.parseSignedData(body, n, off, 0, digests)
			out = append(out, sigs...)
		}
		off += (length + 7) &^ 7
	}
	return out, nil
}

func allZero(p []byte) bool {
	for _, c := range p {
		if c != 0 {
			return false
		}
	}
	return true
}

// parseSignedData parses one PKCS#7 SignedData (RFC 2315) carrying
// Authenticode content and the signatures nested in it. depth counts the
// nesting; nested signatures get numbers 1, 2, ... within an entry.
func (b *efiBinary) parseSignedData(der []byte, entry int, off int64, nested int, digests map[crypto.Hash][]byte) []Signature {
	sig := Signature{Entry: entry, Nested: nested, Offset: off}
	p7, err := parsePKCS7(der)
	if err != nil {
		sig.Problem = fmt.Errorf("PKCS#7 SignedData: %w", err)
		return []Signature{sig}
	}
	if len(p7.Signers) != 1 {
		sig.Problem = fmt.Errorf("PKCS#7 SignedData has %d SignerInfos, Authenticode has exactly one", len(p7.Signers))
		return []Signature{sig}
	}
	out := []Signature{sig}
	s := &out[0]
	s.Signer = p7.GetOnlySigner()
	if s.Signer == nil {
		s.Problem = errors.New("the SignedData does not carry the signer's certificate")
	} else {
		s.Chain = buildChain(s.Signer, p7.Certificates)
		s.Issuer = commonName(s.Signer.Issuer)
		for _, name := range append([]string{s.Issuer}, chainNames(s.Chain)...) {
			if name == MicrosoftUEFICA2011 || name == MicrosoftUEFICA2023 {
				s.CA = name
				break
			}
		}
		s.Problem = b.verifySignedData(der, p7, s, digests)
	}
	// Nested signatures (some signing tools add the second signature here
	// instead of as a second WIN_CERTIFICATE entry).
	if nested == 0 {
		for _, a := range p7.Signers[0].UnauthenticatedAttributes {
			if !a.Type.Equal(oidNestedSignature) {
				continue
			}
			rest := a.Value.Bytes
			for len(rest) > 0 && len(out) <= maxNestedSignatures {
				var ci asn1.RawValue
				r, err := asn1.Unmarshal(rest, &ci)
				if err != nil {
					out = append(out, Signature{Entry: entry, Nested: len(out), Offset: off, Problem: fmt.Errorf("nested signature: %w", err)})
					break
				}
				out = append(out, b.parseSignedData(ci.FullBytes, entry, off, len(out), digests)...)
				rest = r
			}
		}
	}
	return out
}

// parsePKCS7 parses with smallstep/pkcs7, turning a panic of the library
// on hostile input into an error.
func parsePKCS7(der []byte) (p7 *pkcs7.PKCS7, err error) {
	defer func() {
		if r := recover(); r != nil {
			p7, err = nil, fmt.Errorf("unparseable (the PKCS#7 parser failed: %v)", r)
		}
	}()
	var outer struct {
		ContentType asn1.ObjectIdentifier
		Content     asn1.RawValue `asn1:"explicit,tag:0"`
	}
	if _, err := asn1.Unmarshal(der, &outer); err != nil {
		return nil, err
	}
	if !outer.ContentType.Equal(oidSignedData) {
		return nil, fmt.Errorf("content type %v is not SignedData", outer.ContentType)
	}
	var sd struct {
		Version          int
		DigestAlgorithms asn1.RawValue
		ContentInfo      struct {
			ContentType asn1.ObjectIdentifier
			Content     asn1.RawValue `asn1:"explicit,optional,tag:0"`
		}
	}
	if _, err := asn1.Unmarshal(outer.Content.Bytes, &sd); err != nil {
		return nil, fmt.Errorf("SignedData: %w", err)
	}
	if !sd.ContentInfo.ContentType.Equal(oidSpcIndirectData) {
		return nil, fmt.Errorf("content type %v is not Authenticode's SpcIndirectDataContent", sd.ContentInfo.ContentType)
	}
	return pkcs7.Parse(der)
}

// verifySignedData checks that the signature is over this file: the
// SpcIndirectDataContent's image digest equals the file's Authenticode
// digest, and the signer's signature over it verifies.
func (b *efiBinary) verifySignedData(der []byte, p7 *pkcs7.PKCS7, s *Signature, digests map[crypto.Hash][]byte) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("the PKCS#7 verifier failed: %v", r)
		}
	}()
	// SpcIndirectDataContent ::= SEQUENCE { data SpcAttributeTypeAndOptionalValue,
	// messageDigest DigestInfo }; pkcs7 gives the SEQUENCE's contents.
	var data struct {
		Type  asn1.ObjectIdentifier
		Value asn1.RawValue `asn1:"optional"`
	}
	rest, err := asn1.Unmarshal(p7.Content, &data)
	if err != nil {
		return fmt.Errorf("SpcIndirectDataContent: %w", err)
	}
	if !data.Type.Equal(oidSpcPEImageData) {
		return fmt.Errorf("SpcIndirectDataContent type %v is not a PE image (SPC_PE_IMAGE_DATAOBJ)", data.Type)
	}
	var di struct {
		Algorithm pkix.AlgorithmIdentifier
		Digest    []byte
	}
	if _, err := asn1.Unmarshal(rest, &di); err != nil {
		return fmt.Errorf("SpcIndirectDataContent messageDigest: %w", err)
	}
	h, ok := hashByOID[di.Algorithm.Algorithm.String()]
	if !ok {
		return fmt.Errorf("image digest algorithm %v is not one of SHA-1, SHA-256, SHA-384, SHA-512", di.Algorithm.Algorithm)
	}
	s.Digest = h
	want, ok := digests[h]
	if !ok {
		if want, err = b.authenticodeDigest(h); err != nil {
			return err
		}
		digests[h] = want
	}
	if !bytes.Equal(want, di.Digest) {
		return fmt.Errorf("the signed image digest %x is not this file's %v digest %x: the file was changed after signing", di.Digest, h, want)
	}
	if err := p7.Verify(); err != nil {
		return fmt.Errorf("signature does not verify: %w", err)
	}
	return nil
}

// buildChain returns signer followed by each issuer found among certs
// whose signature on the certificate below it verifies.
func buildChain(signer *x509.Certificate, certs []*x509.Certificate) []*x509.Certificate {
	chain := []*x509.Certificate{signer}
	for cur := signer; len(chain) <= len(certs); {
		var next *x509.Certificate
		for _, c := range certs {
			if c == cur || !bytes.Equal(c.RawSubject, cur.RawIssuer) || bytes.Equal(cur.RawSubject, cur.RawIssuer) {
				continue
			}
			if cur.CheckSignatureFrom(c) == nil {
				next = c
				break
			}
		}
		if next == nil {
			break
		}
		chain = append(chain, next)
		cur = next
	}
	return chain
}

func chainNames(chain []*x509.Certificate) []string {
	var n []string
	for _, c := range chain {
		n = append(n, commonName(c.Subject))
	}
	return n
}

// describe is the report form of a signature: "SIGNER (ISSUER)", or
// "SIGNER (ISSUER, built into shim)" when ISSUER is anchor.
func (s *Signature) describe(anchor string) string {
	name := s.SignerName()
	switch {
	case s.Issuer != "" && s.Issuer == anchor && s.Valid():
		name += " (" + s.Issuer + ", built into shim)"
	case s.Issuer != "":
		name += " (" + s.Issuer + ")"
	}
	if s.Problem != nil {
		name += " INVALID: " + s.Problem.Error()
	}
	return name
}

// describeSignatures lists sigs for the report; anchor is the common
// name of shim's built-in certificate, or "".
func describeSignatures(sigs []Signature, anchor ...string) string {
	a := ""
	if len(anchor) > 0 {
		a = anchor[0]
	}
	if len(sigs) == 0 {
		return "unsigned"
	}
	var parts []string
	for i := range sigs {
		parts = append(parts, sigs[i].describe(a))
	}
	return strings.Join(parts, ", ")
}
