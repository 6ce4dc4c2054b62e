package image

import (
	"bytes"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/unbrick/unbrick/internal/inputfile"
)

// Debian packages that carry the boot chain's EFI binaries, named in the
// advice of refusals.
const (
	ShimPackage = "shim-signed"
	GrubPackage = "grub-efi-amd64-signed"
)

// ErrBootChainRefused matches (errors.Is) every refusal of
// CheckBootChain: *SBATRevokedError and *UntrustedError.
var ErrBootChainRefused = errors.New("boot chain refused")

// SBATRevokedError means a binary's SBAT generation is below a published
// SbatLevel revocation: shim refuses to load it on every machine that
// applied that revocation.
type SBATRevokedError struct {
	Binary     string // "shim" or "grub"
	Path       string
	Component  string // SBAT component, e.g. "grub"
	Generation int    // the binary's generation
	Required   int    // the generation the revocation requires
	Level      string // date stamp of the SbatLevel payload that requires it
	Package    string // Debian package to update
	Dir        string // boot chain directory
}

func (e *SBATRevokedError) Error() string {
	return fmt.Sprintf("%s %s: SBAT %s,%d is revoked: SbatLevel %s requires %s,%d, and shim refuses this %s on every machine that applied it; update %s: run scripts/fetch-bootchain.sh %s again",
		e.Binary, filepath.Base(e.Path), e.Component, e.Generation, e.Level, e.Component, e.Required, e.Binary, e.Package, e.Dir)
}

// Is makes errors.Is(err, ErrBootChainRefused) true.
func (e *SBATRevokedError) Is(target error) bool { return target == ErrBootChainRefused }

// UntrustedError means no firmware or shim would start a binary: shim has
// no valid signature from a Microsoft UEFI CA, or grub none that chains to
// the certificate built into shim.
type UntrustedError struct {
	Binary  string
	Path    string
	Msg     string
	Package string
	Dir     string
}

func (e *UntrustedError) Error() string {
	return fmt.Sprintf("%s %s: %s; fetch a signed %s: run scripts/fetch-bootchain.sh %s again",
		e.Binary, filepath.Base(e.Path), e.Msg, e.Package, e.Dir)
}

// Is makes errors.Is(err, ErrBootChainRefused) true.
func (e *UntrustedError) Is(target error) bool { return target == ErrBootChainRefused }

// EFIBinaryReport is what CheckBootChain found in one EFI binary.
type EFIBinaryReport struct {
	Binary         string // "shim" or "grub"
	Path           string
	Package        string // Debian package, e.g. "shim-signed"
	PackageVersion string // from the boot chain's MANIFEST, "" when not recorded
	Signatures     []Signature
	SBAT           []SBATEntry // the .sbat section, "sbat,1" first
	// Revocations are, for each SBAT component of the binary that a known
	// SbatLevel names, the strictest requirement (see CheckBootChain).
	Revocations []Revocation
}

// Revocation is the newest known SbatLevel requirement for one component.
type Revocation struct {
	Component  string
	Generation int    // the binary's
	Required   int    // the newest known revocation's minimum
	Level      string // date stamp of the SbatLevel that first required it
	Source     string // "SbatLevel_Variable.txt" or "shim's .sbatlevel"
}

// OK reports whether the binary's generation meets the requirement.
func (r Revocation) OK() bool { return r.Generation >= r.Required }

// BootChainReport is what CheckBootChain found in the boot chain.
type BootChainReport struct {
	Shim, Grub EFIBinaryReport
	// ShimLevels are the SbatLevel payloads built into shim (nil for a
	// shim without a .sbatlevel section).
	ShimLevels *ShimSbatLevels
	// Firmware2011 and Firmware2023: shim has a valid signature from the
	// Microsoft Corporation UEFI CA 2011 / the Microsoft UEFI CA 2023, so
	// firmware whose db holds that CA starts it.
	Firmware2011, Firmware2023 bool
	// VendorCert is the certificate built into shim (.vendor_cert) that
	// grub must chain to; nil when shim carries none or a list.
	VendorCert *x509.Certificate
	// GrubTrusted: a valid grub signature chains to VendorCert.
	GrubTrusted bool
	Warnings    []string
}

// CheckBootChain reads shim and grub of the boot chain and checks that
// the chain boots with Secure Boot: it lists every Authenticode signature
// of both (each WIN_CERTIFICATE entry of the attribute certificate table
// and the signatures nested in them), verifies each against the file, and
// names the authority each chains to; it reads the .sbat sections and
// shim's .sbatlevel.
//
// It refuses (the error matches ErrBootChainRefused) when shim's or
// grub's SBAT generation of a component is below the newest requirement
// for that component in KnownSbatLevels or in shim's own .sbatlevel
// (*SBATRevokedError), when shim has no valid signature from a Microsoft
// UEFI CA, or grub none that chains to shim's built-in certificate
// (*UntrustedError). A damaged binary is an *EFIFormatError (errors.Is
// ErrBadEFIBinary). With a refusal the report is returned too, so a
// caller can show what was found; several refusals are joined.
//
// A shim signed for one Microsoft CA only is not refused: the report's
// Warnings say which firmware will refuse it.
func CheckBootChain(bc *BootChain) (*BootChainReport, error) {
	if bc == nil {
		return nil, fmt.Errorf("%w: no boot chain given", ErrNoBootChain)
	}
	hint := "the file is damaged or not what fetch-bootchain.sh unpacks: run scripts/fetch-bootchain.sh " + bc.Dir + " again"
	r := &BootChainReport{
		Shim: EFIBinaryReport{Binary: "shim", Path: bc.Shim, Package: ShimPackage, PackageVersion: manifestVersion(bc, ShimPackage)},
		Grub: EFIBinaryReport{Binary: "grub", Path: bc.Grub, Package: GrubPackage, PackageVersion: manifestVersion(bc, GrubPackage)},
	}
	shim, err := readEFIBinary(bc.Shim, "shim")
	if err != nil {
		return nil, fmt.Errorf("shim: %w (%s)", err, hint)
	}
	grub, err := readEFIBinary(bc.Grub, "grub")
	if err != nil {
		return nil, fmt.Errorf("grub: %w (%s)", err, hint)
	}
	for _, x := range []struct {
		b   *efiBinary
		rep *EFIBinaryReport
	}{{shim, &r.Shim}, {grub, &r.Grub}} {
		if x.rep.Signatures, err = x.b.signatures(); err != nil {
			return nil, fmt.Errorf("%s: %w (%s)", x.rep.Binary, err, hint)
		}
		sec, off, err := x.b.section(".sbat")
		if err != nil {
			return nil, fmt.Errorf("%s: %w (%s)", x.rep.Binary, err, hint)
		}
		if sec == nil {
			return nil, fmt.Errorf("%s: %w (%s)", x.rep.Binary, efiErr(x.b.name, ".sbat section", -1, "", "missing: shim refuses to load a binary without SBAT data"), hint)
		}
		if x.rep.SBAT, err = parseSBAT(x.b.name, ".sbat", sec, off); err != nil {
			return nil, fmt.Errorf("%s: %w (%s)", x.rep.Binary, err, hint)
		}
	}
	if sec, off, err := shim.section(".sbatlevel"); err != nil {
		return nil, fmt.Errorf("shim: %w (%s)", err, hint)
	} else if sec != nil {
		if r.ShimLevels, err = parseSbatLevelSection(shim.name, sec, off); err != nil {
			return nil, fmt.Errorf("shim: %w (%s)", err, hint)
		}
	}
	if sec, off, err := shim.section(".vendor_cert"); err != nil {
		return nil, fmt.Errorf("shim: %w (%s)", err, hint)
	} else if sec != nil {
		cert, err := vendorCert(shim.name, sec, off)
		if err != nil {
			return nil, fmt.Errorf("shim: %w (%s)", err, hint)
		}
		r.VendorCert = cert
	}

	var refusals []error
	// SBAT: the strictest known requirement per component.
	levels := append([]SbatLevel(nil), KnownSbatLevels...)
	sources := map[string]string{}
	for _, l := range levels {
		sources[l.Date] = "SbatLevel_Variable.txt"
	}
	if r.ShimLevels != nil {
		for _, l := range []SbatLevel{r.ShimLevels.Automatic, r.ShimLevels.Latest} {
			if _, known := sources[l.Date]; !known {
				levels = append(levels, l)
				sources[l.Date] = "shim's .sbatlevel"
			}
		}
	}
	sort.SliceStable(levels, func(i, j int) bool { return levels[i].Date < levels[j].Date })
	for _, rep := range []*EFIBinaryReport{&r.Shim, &r.Grub} {
		for _, e := range rep.SBAT[1:] {
			req, date := 0, ""
			for _, l := range levels {
				if g := l.Generation(e.Component); g > req {
					req, date = g, l.Date
				}
			}
			if req == 0 {
				continue
			}
			rv := Revocation{Component: e.Component, Generation: e.Generation, Required: req, Level: date, Source: sources[date]}
			rep.Revocations = append(rep.Revocations, rv)
			if !rv.OK() {
				refusals = append(refusals, &SBATRevokedError{Binary: rep.Binary, Path: rep.Path, Component: e.Component,
					Generation: e.Generation, Required: req, Level: date, Package: rep.Package, Dir: bc.Dir})
			}
		}
	}
	if r.ShimLevels == nil {
		r.Warnings = append(r.Warnings, "shim has no .sbatlevel section (shim before 15.7): it applies no SBAT revocations of its own")
	}

	// Which firmware starts shim.
	for i := range r.Shim.Signatures {
		s := &r.Shim.Signatures[i]
		if !s.Valid() {
			continue
		}
		r.Firmware2011 = r.Firmware2011 || s.CA == MicrosoftUEFICA2011
		r.Firmware2023 = r.Firmware2023 || s.CA == MicrosoftUEFICA2023
	}
	for i := range r.Shim.Signatures {
		if s := &r.Shim.Signatures[i]; s.Problem != nil {
			r.Warnings = append(r.Warnings, fmt.Sprintf("shim signature %s is not valid: %v", s.place(), s.Problem))
		}
	}
	switch {
	case !r.Firmware2011 && !r.Firmware2023:
		refusals = append(refusals, &UntrustedError{Binary: "shim", Path: bc.Shim, Package: ShimPackage, Dir: bc.Dir,
			Msg: fmt.Sprintf("no valid signature from %s or %s (found: %s), so firmware with Secure Boot on refuses it", MicrosoftUEFICA2011, MicrosoftUEFICA2023, describeSignatures(r.Shim.Signatures))})
	case !r.Firmware2023:
		r.Warnings = append(r.Warnings, fmt.Sprintf("shim has no signature from the %s: 2023-only firmware (db without the 2011 CA, as on new machines) will refuse it; update %s (run scripts/fetch-bootchain.sh again)", MicrosoftUEFICA2023, ShimPackage))
	case !r.Firmware2011:
		r.Warnings = append(r.Warnings, fmt.Sprintf("shim has no signature from the %s: 2011-only firmware (db not updated with the 2023 CA) will refuse it", MicrosoftUEFICA2011))
	}

	// Does shim start grub?
	var grubValid bool
	for i := range r.Grub.Signatures {
		s := &r.Grub.Signatures[i]
		if !s.Valid() {
			continue
		}
		grubValid = true
		if r.VendorCert != nil && chainsTo(s.Chain, r.VendorCert) {
			r.GrubTrusted = true
		}
	}
	switch {
	case !grubValid:
		refusals = append(refusals, &UntrustedError{Binary: "grub", Path: bc.Grub, Package: GrubPackage, Dir: bc.Dir,
			Msg: fmt.Sprintf("no valid signature (found: %s), so shim refuses to start it", describeSignatures(r.Grub.Signatures))})
	case r.VendorCert == nil:
		r.Warnings = append(r.Warnings, "shim carries no single built-in certificate (.vendor_cert): grub's signer was not checked against it")
	case !r.GrubTrusted:
		refusals = append(refusals, &UntrustedError{Binary: "grub", Path: bc.Grub, Package: GrubPackage, Dir: bc.Dir,
			Msg: fmt.Sprintf("signed by %s, which does not chain to %q built into shim, so shim refuses to start it (shim and grub from different vendors?)", describeSignatures(r.Grub.Signatures), commonName(r.VendorCert.Subject))})
	}
	return r, errors.Join(refusals...)
}

// chainsTo reports whether a certificate of chain is anchor or was signed
// by it.
func chainsTo(chain []*x509.Certificate, anchor *x509.Certificate) bool {
	for _, c := range chain {
		if bytes.Equal(c.Raw, anchor.Raw) {
			return true
		}
		if bytes.Equal(c.RawIssuer, anchor.RawSubject) && c.CheckSignatureFrom(anchor) == nil {
			return true
		}
	}
	return false
}

// vendorCert reads shim's .vendor_cert section (shim's cert.S): four
// 32-bit fields, the sizes of the authorized and deauthorized blobs and
// their offsets from the section start. The authorized blob is one DER
// certificate when shim was built with VENDOR_CERT_FILE (Debian) and an
// EFI signature list with VENDOR_DB_FILE; the latter gives nil.
func vendorCert(file string, sec []byte, off int64) (*x509.Certificate, error) {
	if len(sec) < 16 {
		return nil, efiErr(file, ".vendor_cert section", off, "", "%d bytes, shorter than its 16-byte header", len(sec))
	}
	size := int64(binary.LittleEndian.Uint32(sec[0:]))
	at := int64(binary.LittleEndian.Uint32(sec[8:]))
	if size == 0 {
		return nil, nil
	}
	if at < 16 || at+size > int64(len(sec)) {
		return nil, efiErr(file, ".vendor_cert section", off+8, "vendor_authorized_offset", "%d bytes at %d run past the %d-byte section", size, at, len(sec))
	}
	cert, err := x509.ParseCertificate(sec[at : at+size])
	if err != nil {
		return nil, nil // a signature list (VENDOR_DB_FILE), not one certificate
	}
	return cert, nil
}

func readEFIBinary(path, what string) (*efiBinary, error) {
	data, err := inputfile.Read(path, what, MaxEFIBinary)
	if err != nil {
		return nil, err
	}
	return parseEFIBinary(filepath.Base(path), data)
}

func manifestVersion(bc *BootChain, pkg string) string {
	f := strings.Fields(bc.Manifest["package."+pkg])
	if len(f) == 0 {
		return ""
	}
	return f[0]
}

// place names a signature: "1" for the first table entry, "1.2" for the
// second signature nested in it.
func (s *Signature) place() string {
	if s.Nested > 0 {
		return fmt.Sprintf("%d.%d", s.Entry, s.Nested)
	}
	return fmt.Sprint(s.Entry)
}

// Lines is the report as a few lines for the user.
func (r *BootChainReport) Lines() []string {
	var out []string
	for _, b := range []*EFIBinaryReport{&r.Shim, &r.Grub} {
		pkg := b.Package
		if b.PackageVersion != "" {
			pkg += " " + b.PackageVersion
		}
		sigs := "signed by " + describeSignatures(b.Signatures)
		if b == &r.Grub && r.GrubTrusted {
			sigs = "signed by " + describeSignatures(b.Signatures, r.VendorCert.Subject.CommonName)
		}
		out = append(out, fmt.Sprintf("%s (%s): %s", b.Binary, pkg, sigs))
		var sbat []string
		for _, e := range b.SBAT[1:] {
			sbat = append(sbat, e.String())
		}
		line := fmt.Sprintf("%s: SBAT %s", b.Binary, strings.Join(sbat, " "))
		if len(b.Revocations) == 0 {
			out = append(out, line+" (no known SbatLevel revocation names these components)")
			continue
		}
		var rv []string
		verdict := "ok"
		for _, x := range b.Revocations {
			rv = append(rv, fmt.Sprintf("%s,%d of SbatLevel %s", x.Component, x.Required, x.Level))
			if !x.OK() {
				verdict = fmt.Sprintf("REVOKED (%s,%d is below %s,%d)", x.Component, x.Generation, x.Component, x.Required)
			}
		}
		what := "revocation"
		if len(rv) > 1 {
			what += "s"
		}
		out = append(out, fmt.Sprintf("%s (latest known %s: %s): %s", line, what, strings.Join(rv, ", "), verdict))
	}
	if r.ShimLevels != nil {
		out = append(out, fmt.Sprintf("shim applies SbatLevel %s on every boot, %s after mokutil --set-sbat-policy latest",
			r.ShimLevels.Automatic, r.ShimLevels.Latest))
	}
	var fw []string
	if r.Firmware2011 {
		fw = append(fw, "2011 CA")
	}
	if r.Firmware2023 {
		fw = append(fw, "2023 CA")
	}
	if len(fw) == 0 {
		fw = append(fw, "none (no valid Microsoft signature)")
	}
	out = append(out, "boots on firmware trusting: "+strings.Join(fw, ", "))
	for _, w := range r.Warnings {
		out = append(out, "WARNING: "+w)
	}
	return out
}
