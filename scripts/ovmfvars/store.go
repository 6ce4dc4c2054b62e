package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"unicode/utf16"
)

// Layout constants (see the package documentation for their sources).
const (
	fvSignatureOff      = 40
	fvHeaderLengthOff   = 48
	fvLengthOff         = 32
	storeHeaderLen      = 28
	varHeaderLen        = 60
	varStartID          = 0x55AA
	storeFormatted      = 0x5A
	storeHealthy        = 0xFE
	varAdded            = 0x3F
	varDeletedBit       = 0x02 // cleared by VAR_DELETED (0xFD)
	varInDeletedTransit = 0x3E // VAR_ADDED & VAR_IN_DELETED_TRANSITION
	varDeleted          = 0xFD

	// MaxStoreFile bounds the file read (OVMF's are 128 KiB to 4 MiB).
	MaxStoreFile = 64 << 20
	// MaxVarName bounds a variable name in bytes of UTF-16 with its NUL.
	MaxVarName = 1024
)

// Attribute bits of a UEFI variable.
const (
	AttrNonVolatile       = 0x01
	AttrBootserviceAccess = 0x02
	AttrRuntimeAccess     = 0x04
	AttrTimeBasedAuth     = 0x20
)

// authStoreGUID is gEfiAuthenticatedVariableGuid, the signature of an
// authenticated variable store.
var authStoreGUID = MustGUID("aaf32c78-947b-439a-a180-2e144ec37792")

// ErrBadStore matches (errors.Is) every *FormatError.
var ErrBadStore = errors.New("malformed variable store")

// FormatError reports a structure of the store file that breaks its
// format: which structure, its file offset, which field and what is wrong.
type FormatError struct {
	Structure string // e.g. "VARIABLE_STORE_HEADER", "variable 12 (db)"
	Offset    int64  // file offset of the structure or field
	Field     string // e.g. "NameSize"; "" for the structure as a whole
	Msg       string
}

func (e *FormatError) Error() string {
	s := fmt.Sprintf("%s at offset %#x", e.Structure, e.Offset)
	if e.Field != "" {
		s += ", field " + e.Field
	}
	return s + ": " + e.Msg
}

// Is makes errors.Is(err, ErrBadStore) true for a *FormatError.
func (e *FormatError) Is(target error) bool { return target == ErrBadStore }

func formatErr(structure string, off int64, field, format string, a ...any) *FormatError {
	return &FormatError{Structure: structure, Offset: off, Field: field, Msg: fmt.Sprintf(format, a...)}
}

// Variable is one variable header and its payload in a store.
type Variable struct {
	Offset         int64 // file offset of the header
	State          byte
	Attributes     uint32
	MonotonicCount uint64
	TimeStamp      [16]byte // EFI_TIME
	PubKeyIndex    uint32
	GUID           GUID
	Name           string
	Data           []byte
	// End is the file offset just past the data (before alignment).
	End int64
}

// Deleted reports whether the VAR_DELETED bit is cleared in State.
func (v *Variable) Deleted() bool { return v.State&varDeletedBit == 0 }

// Store is a parsed variable store file.
type Store struct {
	data      []byte
	storeOff  int64 // VARIABLE_STORE_HEADER
	storeEnd  int64 // storeOff + its Size
	Variables []*Variable
	freeOff   int64 // first byte after the last variable, 4-byte aligned
}

// ParseStore parses an OVMF variable store file. It keeps data (does not copy it).
func ParseStore(data []byte) (*Store, error) {
	if len(data) > MaxStoreFile {
		return nil, formatErr("file", 0, "", "%d bytes, more than the %d this tool reads", len(data), MaxStoreFile)
	}
	if len(data) < 0x48+storeHeaderLen {
		return nil, formatErr("EFI_FIRMWARE_VOLUME_HEADER", 0, "", "file of %d bytes is too short", len(data))
	}
	if string(data[fvSignatureOff:fvSignatureOff+4]) != "_FVH" {
		return nil, formatErr("EFI_FIRMWARE_VOLUME_HEADER", fvSignatureOff, "Signature", "%q is not \"_FVH\"", data[fvSignatureOff:fvSignatureOff+4])
	}
	if fvLen := binary.LittleEndian.Uint64(data[fvLengthOff:]); fvLen > uint64(len(data)) {
		return nil, formatErr("EFI_FIRMWARE_VOLUME_HEADER", fvLengthOff, "FvLength", "%#x is longer than the %#x-byte file", fvLen, len(data))
	}
	s := &Store{data: data, storeOff: int64(binary.LittleEndian.Uint16(data[fvHeaderLengthOff:]))}
	if s.storeOff < 56 || s.storeOff+storeHeaderLen > int64(len(data)) {
		return nil, formatErr("EFI_FIRMWARE_VOLUME_HEADER", fvHeaderLengthOff, "HeaderLength", "%#x puts the variable store outside the file", s.storeOff)
	}
	h := data[s.storeOff:]
	if g := GUIDFromBytes(h[:16]); g != authStoreGUID {
		return nil, formatErr("VARIABLE_STORE_HEADER", s.storeOff, "Signature", "%v is not the authenticated variable store GUID %v", g, authStoreGUID)
	}
	size := int64(binary.LittleEndian.Uint32(h[16:]))
	s.storeEnd = s.storeOff + size
	if size < storeHeaderLen+varHeaderLen || s.storeEnd > int64(len(data)) {
		return nil, formatErr("VARIABLE_STORE_HEADER", s.storeOff+16, "Size", "%#x runs past the end of the %#x-byte file", size, len(data))
	}
	if h[20] != storeFormatted {
		return nil, formatErr("VARIABLE_STORE_HEADER", s.storeOff+20, "Format", "%#02x is not VARIABLE_STORE_FORMATTED (0x5a)", h[20])
	}
	if h[21] != storeHealthy {
		return nil, formatErr("VARIABLE_STORE_HEADER", s.storeOff+21, "State", "%#02x is not VARIABLE_STORE_HEALTHY (0xfe)", h[21])
	}
	off := align4(s.storeOff + storeHeaderLen)
	for n := 1; off+varHeaderLen <= s.storeEnd; n++ {
		if binary.LittleEndian.Uint16(data[off:]) != varStartID {
			break
		}
		v, err := s.parseVariable(off, n)
		if err != nil {
			return nil, err
		}
		s.Variables = append(s.Variables, v)
		off = align4(v.End)
	}
	s.freeOff = off
	for i := off; i < s.storeEnd; i++ {
		if data[i] != 0xFF {
			return nil, formatErr("free space after the last variable", i, "", "byte %#02x where erased flash (0xff) was expected", data[i])
		}
	}
	return s, nil
}

func (s *Store) parseVariable(off int64, n int) (*Variable, error) {
	d := s.data[off:]
	what := fmt.Sprintf("AUTHENTICATED_VARIABLE_HEADER %d", n)
	v := &Variable{
		Offset:         off,
		State:          d[2],
		Attributes:     binary.LittleEndian.Uint32(d[4:]),
		MonotonicCount: binary.LittleEndian.Uint64(d[8:]),
		PubKeyIndex:    binary.LittleEndian.Uint32(d[32:]),
		GUID:           GUIDFromBytes(d[44:60]),
	}
	copy(v.TimeStamp[:], d[16:32])
	nameSize := int64(binary.LittleEndian.Uint32(d[36:]))
	dataSize := int64(binary.LittleEndian.Uint32(d[40:]))
	if nameSize < 2 || nameSize%2 != 0 || nameSize > MaxVarName {
		return nil, formatErr(what, off+36, "NameSize", "%d is not an even size from 2 to %d", nameSize, MaxVarName)
	}
	nameOff := off + varHeaderLen
	if nameOff+nameSize+dataSize > s.storeEnd {
		return nil, formatErr(what, off+40, "DataSize", "name of %d and data of %d bytes run past the end of the store at %#x", nameSize, dataSize, s.storeEnd)
	}
	u := make([]uint16, nameSize/2)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(s.data[nameOff+2*int64(i):])
	}
	if u[len(u)-1] != 0 {
		return nil, formatErr(what, nameOff, "Name", "not NUL-terminated")
	}
	v.Name = string(utf16.Decode(u[:len(u)-1]))
	dataOff := nameOff + nameSize
	v.Data = s.data[dataOff : dataOff+dataSize]
	v.End = dataOff + dataSize
	return v, nil
}

func align4(x int64) int64 { return (x + 3) &^ 3 }

// Live returns the live copy of the variable NAME/GUID (see the package
// documentation), or nil.
func (s *Store) Live(name string, g GUID) *Variable {
	var transit *Variable
	for _, v := range s.Variables {
		if v.Name != name || v.GUID != g {
			continue
		}
		switch v.State {
		case varAdded:
			return v
		case varInDeletedTransit:
			transit = v
		}
	}
	return transit
}

// LiveVariables returns the live variables in store order.
func (s *Store) LiveVariables() []*Variable {
	var out []*Variable
	for _, v := range s.Variables {
		if s.Live(v.Name, v.GUID) == v {
			out = append(out, v)
		}
	}
	return out
}

// Bytes returns the store file as edited.
func (s *Store) Bytes() []byte { return s.data }

// Free returns the bytes left for new variables.
func (s *Store) Free() int64 { return s.storeEnd - s.freeOff }

// Set replaces (or adds) the variable name/GUID with data. When a live
// copy exists its State gets VAR_DELETED and the new copy keeps its
// attributes, monotonic count, timestamp and public key index unless attrs
// is not nil; a new variable needs attrs.
func (s *Store) Set(name string, g GUID, data []byte, attrs *uint32) (*Variable, error) {
	u := append(utf16.Encode([]rune(name)), 0)
	nameSize := int64(2 * len(u))
	if name == "" || nameSize > MaxVarName {
		return nil, fmt.Errorf("variable name %q: must be 1 to %d UTF-16 bytes with its NUL", name, MaxVarName)
	}
	nv := &Variable{State: varAdded, GUID: g, Name: name}
	old := s.Live(name, g)
	switch {
	case old != nil:
		nv.Attributes, nv.MonotonicCount, nv.TimeStamp, nv.PubKeyIndex = old.Attributes, old.MonotonicCount, old.TimeStamp, old.PubKeyIndex
	case attrs == nil:
		return nil, fmt.Errorf("variable %s-%v does not exist: give its attributes", name, g)
	}
	if attrs != nil {
		nv.Attributes = *attrs
	}
	if nv.Attributes&AttrNonVolatile == 0 {
		return nil, fmt.Errorf("variable %s-%v: attributes %#x lack NON_VOLATILE, it would not be in a store file", name, g, nv.Attributes)
	}
	need := varHeaderLen + nameSize + int64(len(data))
	if need > s.Free() {
		return nil, fmt.Errorf("variable %s-%v: %d bytes do not fit in the %d free bytes of the store (at %#x)", name, g, need, s.Free(), s.freeOff)
	}
	off := s.freeOff
	h := s.data[off : off+need]
	binary.LittleEndian.PutUint16(h[0:], varStartID)
	h[2], h[3] = nv.State, 0
	binary.LittleEndian.PutUint32(h[4:], nv.Attributes)
	binary.LittleEndian.PutUint64(h[8:], nv.MonotonicCount)
	copy(h[16:32], nv.TimeStamp[:])
	binary.LittleEndian.PutUint32(h[32:], nv.PubKeyIndex)
	binary.LittleEndian.PutUint32(h[36:], uint32(nameSize))
	binary.LittleEndian.PutUint32(h[40:], uint32(len(data)))
	copy(h[44:60], g.Bytes())
	for i, c := range u {
		binary.LittleEndian.PutUint16(h[varHeaderLen+2*i:], c)
	}
	copy(h[varHeaderLen+nameSize:], data)
	if old != nil {
		old.State &= varDeleted
		s.data[old.Offset+2] = old.State
	}
	nv.Offset, nv.End = off, off+need
	nv.Data = h[varHeaderLen+nameSize:]
	s.Variables = append(s.Variables, nv)
	s.freeOff = align4(nv.End)
	if s.freeOff > s.storeEnd {
		s.freeOff = s.storeEnd
	}
	return nv, nil
}

// AttrString spells attribute bits as NV|BS|RT|AT.
func AttrString(a uint32) string {
	var b bytes.Buffer
	for _, x := range []struct {
		bit  uint32
		name string
	}{{AttrNonVolatile, "NV"}, {AttrBootserviceAccess, "BS"}, {AttrRuntimeAccess, "RT"}, {0x10, "AW"}, {AttrTimeBasedAuth, "AT"}} {
		if a&x.bit != 0 {
			if b.Len() > 0 {
				b.WriteByte('|')
			}
			b.WriteString(x.name)
			a &^= x.bit
		}
	}
	if a != 0 {
		fmt.Fprintf(&b, "|%#x", a)
	}
	return b.String()
}
