package image

import (
	"bytes"
	"crypto/x509"
	"encoding/binary"
	"fmt"
)

// This file exports, for test tooling (scripts/ovmfvars, the Secure Boot
// matrix of scripts/ci-secureboot.sh), what the boot chain check already
// parses privately: an EFI binary's Authenticode signatures and its
// attribute certificate table, the Microsoft CA certificates carried in
// shim's signatures, and the raw payloads of shim's .sbatlevel section.

// EFISignatures parses data as a PE/COFF EFI binary (name is used in
// errors) and returns its Authenticode signatures, as CheckBootChain lists
// them, and the file offset and size of its attribute certificate table
// (0, 0 when unsigned).
func EFISignatures(name string, data []byte) (sigs []Signature, tableOff, tableSize int64, err error) {
	b, err := parseEFIBinary(name, data)
	if err != nil {
		return nil, 0, 0, err
	}
	sigs, err = b.signatures()
	if err != nil {
		return nil, 0, 0, err
	}
	return sigs, b.certOff, b.certSize, nil
}

// EFICertTableDirOffset returns the file offset of the certificate table
// data directory entry (the optional header's DataDirectory[4], 8 bytes:
// VirtualAddress, which for this entry is a file offset, then Size) and of
// the optional header's CheckSum field.
func EFICertTableDirOffset(name string, data []byte) (dirOff, checksumOff int64, err error) {
	b, err := parseEFIBinary(name, data)
	if err != nil {
		return 0, 0, err
	}
	return b.certDirOffset(), b.optOff + 64, nil
}

// CACertificate returns the certificate of the certificate authority
// named ca (e.g. MicrosoftUEFICA2023) as carried in the chain of one of
// the EFI binary's valid signatures: the certificate firmware must hold in
// db to accept that signature. It is an error when no valid signature's
// chain includes that authority's certificate itself (a SignedData may
// name an issuer without carrying its certificate).
func CACertificate(name string, data []byte, ca string) (*x509.Certificate, error) {
	sigs, _, _, err := EFISignatures(name, data)
	if err != nil {
		return nil, err
	}
	for i := range sigs {
		if !sigs[i].Valid() {
			continue
		}
		for _, c := range sigs[i].Chain[1:] {
			if commonName(c.Subject) == ca {
				return c, nil
			}
		}
	}
	return nil, fmt.Errorf("%s: no valid signature carries the certificate of %q (signatures: %s)", name, ca, describeSignatures(sigs))
}

// ShimSbatLevelPayloads returns the two SbatLevel payloads of a shim's
// .sbatlevel section byte for byte, without their terminating NUL:
// automatic (applied on every boot; shim's source calls it "previous" in
// older releases) and latest (applied with "mokutil --set-sbat-policy
// latest"). The section is validated as CheckBootChain does first. Shim
// writes a payload to its SbatLevel variable as these bytes (strlen, no
// NUL).
func ShimSbatLevelPayloads(name string, data []byte) (automatic, latest []byte, err error) {
	b, err := parseEFIBinary(name, data)
	if err != nil {
		return nil, nil, err
	}
	sec, off, err := b.section(".sbatlevel")
	if err != nil {
		return nil, nil, err
	}
	if sec == nil {
		return nil, nil, efiErr(name, ".sbatlevel section", -1, "", "missing (shim older than 15.7?)")
	}
	if _, err := parseSbatLevelSection(name, sec, off); err != nil {
		return nil, nil, err
	}
	var out [2][]byte
	for i := range out {
		start := 4 + int64(binary.LittleEndian.Uint32(sec[4+4*i:]))
		text := sec[start:]
		if j := bytes.IndexByte(text, 0); j >= 0 {
			text = text[:j]
		}
		out[i] = append([]byte(nil), text...)
	}
	return out[0], out[1], nil
}
