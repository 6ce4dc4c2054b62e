package main

import (
	"encoding/binary"
	"fmt"

	"github.com/unbrick/unbrick/image"
)

// caName maps the command line's 2011/2023 to the CA's common name.
func caName(s string) (string, error) {
	switch s {
	case "2011":
		return image.MicrosoftUEFICA2011, nil
	case "2023":
		return image.MicrosoftUEFICA2023, nil
	}
	return "", fmt.Errorf("CA %q: want 2011 or 2023", s)
}

// StripSignatures returns a copy of the signed EFI binary data keeping only
// the WIN_CERTIFICATE entries of its attribute certificate table (Microsoft
// PE/COFF specification, "The Attribute Certificate Table") whose
// signatures, nested ones included, all chain to the CA named keep and
// verify. The table is rewritten with the kept entries (each padded to 8
// bytes), the certificate table directory's Size set to match, the file
// cut after it and the optional header's CheckSum recomputed. Neither the
// table nor the CheckSum is covered by the Authenticode digest, so the
// kept signatures stay valid. An entry that mixes CAs (a nested
// signature, OID 1.3.6.1.4.1.311.2.4.1, of another CA inside a kept one)
// is an error: splitting a SignedData is not implemented.
func StripSignatures(name string, data []byte, keep string) ([]byte, error) {
	sigs, tOff, tSize, err := image.EFISignatures(name, data)
	if err != nil {
		return nil, err
	}
	if tSize == 0 {
		return nil, fmt.Errorf("%s: unsigned", name)
	}
	type entry struct {
		off            int64
		keep, mixed    bool
		describeIssuer string
	}
	var order []int
	entries := map[int]*entry{}
	for i := range sigs {
		s := &sigs[i]
		e := entries[s.Entry]
		if e == nil {
			e = &entry{off: s.Offset, keep: true}
			entries[s.Entry] = e
			order = append(order, s.Entry)
		}
		ok := s.Valid() && s.CA == keep
		if s.Nested > 0 && ok != e.keep {
			e.mixed = true
		}
		e.keep = e.keep && ok
		e.describeIssuer += fmt.Sprintf(" [%s / %s]", s.SignerName(), s.Issuer)
	}
	var table []byte
	for _, n := range order {
		e := entries[n]
		if e.mixed {
			return nil, fmt.Errorf("%s: attribute certificate table entry %d at %#x nests signatures of several CAs:%s; removing a nested signature is not implemented", name, n, e.off, e.describeIssuer)
		}
		if !e.keep {
			continue
		}
		length := int64(binary.LittleEndian.Uint32(data[e.off:]))
		padded := make([]byte, (length+7)&^7)
		copy(padded, data[e.off:e.off+length])
		table = append(table, padded...)
	}
	if len(table) == 0 {
		return nil, fmt.Errorf("%s: no signature chains to %q: nothing would be left", name, keep)
	}
	dirOff, csumOff, err := image.EFICertTableDirOffset(name, data)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, tOff+int64(len(table)))
	out = append(out, data[:tOff]...)
	out = append(out, table...)
	binary.LittleEndian.PutUint32(out[dirOff+4:], uint32(len(table)))
	binary.LittleEndian.PutUint32(out[csumOff:], peChecksum(out, csumOff))
	return out, nil
}

// peChecksum computes the PE optional header CheckSum the way the Windows
// image loader checks it (ImageHlp's CheckSumMappedFile): the 16-bit
// one's-complement style sum of the file's words, the CheckSum field
// counted as zero, folded to 16 bits, plus the file length.
func peChecksum(b []byte, csumOff int64) uint32 {
	var sum uint64
	for i := int64(0); i < int64(len(b)); i += 2 {
		var w uint64
		if i+1 < int64(len(b)) {
			w = uint64(binary.LittleEndian.Uint16(b[i:]))
		} else {
			w = uint64(b[i])
		}
		if i >= csumOff && i < csumOff+4 {
			w = 0
		}
		sum += w
		sum = (sum & 0xffff) + (sum >> 16)
	}
	sum = (sum & 0xffff) + (sum >> 16)
	return uint32(sum) + uint32(len(b))
}
