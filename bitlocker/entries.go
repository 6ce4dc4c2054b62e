package bitlocker

import (
	"encoding/binary"
	"fmt"
	"strings"
	"unicode/utf16"
)

// FVE metadata entries ("datums"): a chain of variable-size records, each
//
//	offset size
//	0      2    entry size, including this 8-byte header
//	2      2    entry type (role): 0 = property of the enclosing entry,
//	            2 = VMK, 3 = FVEK, 4 = validation, 6 = startup key,
//	            7 = description, 0xb = auto-unlock / FVEK backup,
//	            0xf = volume header block (virtualization info), ...
//	4      2    value type (how the data is laid out, see valueType*)
//	6      2    version (1; 3 seen on clear-key VMKs)
//	8      ...  value data
//
// Sources: libbde documentation "FVE metadata entry"; dissect.fve
// bde/c_bde.py (FVE_DATUM, FVE_DATUM_ROLE, FVE_DATUM_TYPE).
const entryHeaderSize = 8

// Entry types (the "role" of an entry in the dataset).
const (
	entryProperty       = 0x0000
	entryVMK            = 0x0002
	entryFVEK           = 0x0003
	entryValidation     = 0x0004
	entryStartupKey     = 0x0006
	entryDescription    = 0x0007
	entryFVEKBackup     = 0x000b
	entryVolumeHeader   = 0x000f
	entryValidationHash = 0x0011
)

// Value types.
const (
	valueErased        = 0x0000
	valueKey           = 0x0001 // method u16, flags u16, key bytes
	valueUnicode       = 0x0002 // UTF-16LE string, NUL-terminated
	valueStretchKey    = 0x0003 // method u16, flags u16, salt [16], nested entries
	valueUseKey        = 0x0004 // method u16, flags u16, nested entries
	valueAESCCM        = 0x0005 // nonce [12] (FILETIME + counter), MAC [16], ciphertext
	valueTPM           = 0x0006 // PCR bitmap u32, sealed blob
	valueValidation    = 0x0007
	valueVMK           = 0x0008 // key ID GUID, FILETIME, u16, protection u16, nested entries
	valueExternal      = 0x0009 // key ID GUID, FILETIME, nested entries
	valueUpdate        = 0x000a
	valueError         = 0x000b
	valueAsymmetric    = 0x000c
	valueExported      = 0x000d
	valuePublicKeyInfo = 0x000e
	valueOffsetSize    = 0x000f // offset u64, size u64, optional extra data
	valueSimple1       = 0x0010 // u32
	valueSimple2       = 0x0011 // u32
	valueConcatHash    = 0x0012
	valueSimple3       = 0x0013 // u32
	valueSimpleLarge   = 0x0014 // u64
	valueBackupInfo    = 0x0015
)

// maxEntryDepth bounds nesting (VMK -> stretch key -> AES-CCM is depth 2).
const maxEntryDepth = 6

// entry is one decoded FVE metadata entry. value holds a *keyValue,
// *stretchKeyValue, *useKeyValue, *ccmValue, *tpmValue, *vmkValue,
// *externalValue, *offsetSizeValue, string, uint32 or uint64 for the value
// types this package knows, and is nil otherwise (unknown types are kept,
// undecoded, in data). decodeErr is set when a known value type is too
// short or malformed; such an entry is kept but not used.
type entry struct {
	Type      uint16
	ValueType uint16
	Version   uint16
	Data      []byte // value data (after the 8-byte header)
	value     any
	decodeErr error
}

type keyValue struct {
	Method uint16
	Flags  uint16
	Key    []byte
}

type stretchKeyValue struct {
	Method  uint16
	Flags   uint16
	Salt    [16]byte
	Entries []entry
}

type useKeyValue struct {
	Method  uint16
	Flags   uint16
	Entries []entry
}

type ccmValue struct {
	Nonce  [12]byte
	Sealed []byte // 16-byte MAC followed by the ciphertext
}

type tpmValue struct {
	PCRBitmap uint32
	Blob      []byte
}

type vmkValue struct {
	ID         GUID
	Modified   uint64 // FILETIME
	Unknown    uint16
	Protection uint16
	Entries    []entry
}

type externalValue struct {
	ID       GUID
	Modified uint64
	Entries  []entry
}

type offsetSizeValue struct {
	Offset uint64
	Size   uint64
	Extra  []byte
}

// parseEntries decodes the entry chain in b. Trailing bytes shorter than an
// entry header end the chain (Windows pads with zeros). An entry whose size
// is below 8 or runs past the end of b breaks the chain: that is an error,
// since nothing after it can be located.
func parseEntries(b []byte, depth int) ([]entry, error) {
	if depth > maxEntryDepth {
		return nil, fmt.Errorf("metadata entries nested deeper than %d levels", maxEntryDepth)
	}
	var out []entry
	for off := 0; len(b)-off >= entryHeaderSize; {
		size := int(binary.LittleEndian.Uint16(b[off:]))
		if size == 0 && allZero(b[off:]) {
			break // zero padding
		}
		if size < entryHeaderSize {
			return out, fmt.Errorf("metadata entry at +%d has size %d, less than its 8-byte header", off, size)
		}
		if size > len(b)-off {
			return out, fmt.Errorf("metadata entry at +%d has size %d, beyond the %d bytes left", off, size, len(b)-off)
		}
		e := entry{
			Type:      binary.LittleEndian.Uint16(b[off+2:]),
			ValueType: binary.LittleEndian.Uint16(b[off+4:]),
			Version:   binary.LittleEndian.Uint16(b[off+6:]),
			Data:      b[off+entryHeaderSize : off+size],
		}
		e.value, e.decodeErr = decodeValue(e.ValueType, e.Data, depth)
		out = append(out, e)
		off += size
	}
	return out, nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// decodeValue decodes the value data d of value type vt.
func decodeValue(vt uint16, d []byte, depth int) (any, error) {
	need := func(n int) error {
		if len(d) < n {
			return fmt.Errorf("value type 0x%04x: %d bytes, need at least %d", vt, len(d), n)
		}
		return nil
	}
	le := binary.LittleEndian
	switch vt {
	case valueKey:
		if err := need(4); err != nil {
			return nil, err
		}
		return &keyValue{Method: le.Uint16(d), Flags: le.Uint16(d[2:]), Key: d[4:]}, nil
	case valueUnicode:
		return decodeUTF16(d), nil
	case valueStretchKey:
		if err := need(20); err != nil {
			return nil, err
		}
		v := &stretchKeyValue{Method: le.Uint16(d), Flags: le.Uint16(d[2:])}
		copy(v.Salt[:], d[4:20])
		var err error
		v.Entries, err = parseEntries(d[20:], depth+1)
		return v, err
	case valueUseKey:
		if err := need(4); err != nil {
			return nil, err
		}
		v := &useKeyValue{Method: le.Uint16(d), Flags: le.Uint16(d[2:])}
		var err error
		v.Entries, err = parseEntries(d[4:], depth+1)
		return v, err
	case valueAESCCM:
		if err := need(12 + 16); err != nil {
			return nil, err
		}
		v := &ccmValue{Sealed: d[12:]}
		copy(v.Nonce[:], d[:12])
		return v, nil
	case valueTPM:
		if err := need(4); err != nil {
			return nil, err
		}
		return &tpmValue{PCRBitmap: le.Uint32(d), Blob: d[4:]}, nil
	case valueVMK:
		if err := need(28); err != nil {
			return nil, err
		}
		v := &vmkValue{ID: guidAt(d), Modified: le.Uint64(d[16:]), Unknown: le.Uint16(d[24:]), Protection: le.Uint16(d[26:])}
		var err error
		v.Entries, err = parseEntries(d[28:], depth+1)
		return v, err
	case valueExternal:
		if err := need(24); err != nil {
			return nil, err
		}
		v := &externalValue{ID: guidAt(d), Modified: le.Uint64(d[16:])}
		var err error
		v.Entries, err = parseEntries(d[24:], depth+1)
		return v, err
	case valueOffsetSize:
		if err := need(16); err != nil {
			return nil, err
		}
		return &offsetSizeValue{Offset: le.Uint64(d), Size: le.Uint64(d[8:]), Extra: d[16:]}, nil
	case valueSimple1, valueSimple2, valueSimple3:
		if err := need(4); err != nil {
			return nil, err
		}
		return le.Uint32(d), nil
	case valueSimpleLarge:
		if err := need(8); err != nil {
			return nil, err
		}
		return le.Uint64(d), nil
	}
	return nil, nil // unknown or opaque value type: kept as raw data
}

// decodeUTF16 decodes a UTF-16LE string up to its first NUL.
func decodeUTF16(d []byte) string {
	u := make([]uint16, 0, len(d)/2)
	for i := 0; i+1 < len(d); i += 2 {
		c := binary.LittleEndian.Uint16(d[i:])
		if c == 0 {
			break
		}
		u = append(u, c)
	}
	return strings.ToValidUTF8(string(utf16.Decode(u)), "\uFFFD")
}

// findEntries returns the entries of the given type and value type.
func findEntries(es []entry, typ, vt uint16) []*entry {
	var out []*entry
	for i := range es {
		if es[i].Type == typ && es[i].ValueType == vt && es[i].decodeErr == nil && es[i].value != nil {
			out = append(out, &es[i])
		}
	}
	return out
}

// firstValue returns the first decoded value of value type vt among es
// (any entry type), or nil.
func firstValue(es []entry, vt uint16) any {
	for i := range es {
		if es[i].ValueType == vt && es[i].decodeErr == nil && es[i].value != nil {
			return es[i].value
		}
	}
	return nil
}
