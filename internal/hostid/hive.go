package hostid

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf16"
)

// Registry hive ("regf") reader: just enough to walk keys and read values
// of an offline SYSTEM hive. Format facts from Maxim Suhanov's "Windows
// registry file format specification" (msuhanov/regf), cross-checked
// against hivex-made hives and the corpus SYSTEM hives.
//
// Why our own reader and not www.velocidex.com/golang/regparser (served
// here): regparser follows "ri" index lists recursively with no depth or
// cycle limit (a corrupt hive overflows the stack, which Go cannot
// recover), and reads value data one byte per ReadAt. The hive we read comes
// from a machine that crashed; it must not be able to crash us. regparser
// is kept as an independent oracle in the tests.

// Errors.
var (
	ErrNotHive     = errors.New("not a registry hive (no \"regf\" signature)")
	ErrKeyNotFound = errors.New("registry key not found")
	ErrNoValue     = errors.New("registry value not found")
)

// Registry value types used here.
const (
	RegSZ       = 1
	RegExpandSZ = 2
	RegBinary   = 3
	RegDWORD    = 4
	RegMultiSZ  = 7
	RegQWORD    = 11
)

const (
	baseBlockSize  = 4096
	maxSubkeys     = 1 << 16 // per key; far above any real SYSTEM key
	maxValues      = 1 << 16
	maxValueData   = 16 << 20
	bigDataSegment = 16344 // bytes of data per "db" segment
)

// Hive is an opened registry hive file.
type Hive struct {
	r     io.ReaderAt
	size  int64
	root  uint32
	seq1  uint32
	seq2  uint32
	csum  bool // base block checksum correct
	major uint32
	minor uint32
}

// OpenHive reads the base block of a hive file of the given size.
func OpenHive(r io.ReaderAt, size int64) (*Hive, error) {
	if size < baseBlockSize+32 {
		return nil, fmt.Errorf("%w: %d bytes is too small", ErrNotHive, size)
	}
	b := make([]byte, baseBlockSize)
	if _, err := r.ReadAt(b, 0); err != nil && err != io.EOF {
		return nil, fmt.Errorf("read hive base block: %w", err)
	}
	if string(b[:4]) != "regf" {
		return nil, ErrNotHive
	}
	h := &Hive{
		r:     r,
		size:  size,
		seq1:  binary.LittleEndian.Uint32(b[4:]),
		seq2:  binary.LittleEndian.Uint32(b[8:]),
		major: binary.LittleEndian.Uint32(b[20:]),
		minor: binary.LittleEndian.Uint32(b[24:]),
		root:  binary.LittleEndian.Uint32(b[36:]),
	}
	// Checksum: XOR of the first 127 dwords (0 -> 1, 0xFFFFFFFF -> 0xFFFFFFFE).
	var x uint32
	for i := 0; i < 508; i += 4 {
		x ^= binary.LittleEndian.Uint32(b[i:])
	}
	switch x {
	case 0:
		x = 1
	case 0xffffffff:
		x = 0xfffffffe
	}
	h.csum = x == binary.LittleEndian.Uint32(b[508:])
	if h.major != 1 {
		return nil, fmt.Errorf("registry hive format version %d.%d is not supported", h.major, h.minor)
	}
	return h, nil
}

// Dirty reports whether the hive has changes only in its transaction logs
// (SYSTEM.LOG1/LOG2): the primary and secondary sequence numbers differ.
// Values read may then be older than what Windows last saw.
func (h *Hive) Dirty() bool { return h.seq1 != h.seq2 }

// ChecksumOK reports whether the base block checksum is correct.
func (h *Hive) ChecksumOK() bool { return h.csum }

// cell reads the cell at offset off (relative to the first hive bin) and
// returns its data (without the 4-byte size).
func (h *Hive) cell(off uint32) ([]byte, error) {
	if off == 0xffffffff {
		return nil, errors.New("no such cell (offset -1)")
	}
	abs := int64(baseBlockSize) + int64(off)
	if abs+4 > h.size {
		return nil, fmt.Errorf("cell offset 0x%x is outside the hive", off)
	}
	var sz [4]byte
	if _, err := h.r.ReadAt(sz[:], abs); err != nil {
		return nil, fmt.Errorf("read cell at 0x%x: %w", off, err)
	}
	n := int32(binary.LittleEndian.Uint32(sz[:]))
	if n >= 0 {
		return nil, fmt.Errorf("cell at 0x%x is not allocated", off)
	}
	size := -int64(n)
	if size < 8 || abs+size > h.size || size > maxValueData+8 {
		return nil, fmt.Errorf("cell at 0x%x has bad size %d", off, size)
	}
	b := make([]byte, size-4)
	if _, err := h.r.ReadAt(b, abs+4); err != nil && err != io.EOF {
		return nil, fmt.Errorf("read cell at 0x%x: %w", off, err)
	}
	return b, nil
}

// Key is a registry key (an "nk" cell).
type Key struct {
	h    *Hive
	off  uint32
	name string
	nk   []byte
}

// Name is the key's own name.
func (k *Key) Name() string { return k.name }

func (h *Hive) key(off uint32) (*Key, error) {
	b, err := h.cell(off)
	if err != nil {
		return nil, err
	}
	if len(b) < 76 || string(b[:2]) != "nk" {
		return nil, fmt.Errorf("cell at 0x%x is not a key node", off)
	}
	flags := binary.LittleEndian.Uint16(b[2:])
	nlen := int(binary.LittleEndian.Uint16(b[72:]))
	if 76+nlen > len(b) {
		return nil, fmt.Errorf("key node at 0x%x: name length %d overruns the cell", off, nlen)
	}
	return &Key{h: h, off: off, nk: b, name: decodeName(b[76:76+nlen], flags&0x0020 != 0)}, nil
}

// decodeName decodes a key or value name: Latin-1 when the "compressed
// name" flag is set, else UTF-16LE.
func decodeName(b []byte, compressed bool) string {
	if compressed {
		r := make([]rune, len(b))
		for i, c := range b {
			r[i] = rune(c)
		}
		return string(r)
	}
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
	return string(utf16.Decode(u))
}

// Root is the hive's root key.
func (h *Hive) Root() (*Key, error) {
	k, err := h.key(h.root)
	if err != nil {
		return nil, fmt.Errorf("root key: %w", err)
	}
	return k, nil
}

// Key opens a key by path ("ControlSet001\Control\ComputerName"; "\" or
// "/" separate components; case-insensitive).
func (h *Hive) Key(path string) (*Key, error) {
	k, err := h.Root()
	if err != nil {
		return nil, err
	}
	for _, c := range strings.FieldsFunc(path, func(r rune) bool { return r == '\\' || r == '/' }) {
		k, err = k.Subkey(c)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	return k, nil
}

// Subkeys lists the key's subkeys.
func (k *Key) Subkeys() ([]*Key, error) {
	n := binary.LittleEndian.Uint32(k.nk[20:])
	if n == 0 {
		return nil, nil
	}
	if n > maxSubkeys {
		return nil, fmt.Errorf("key %q claims %d subkeys", k.name, n)
	}
	var offs []uint32
	if err := k.h.subkeyList(binary.LittleEndian.Uint32(k.nk[28:]), &offs, 0); err != nil {
		return nil, fmt.Errorf("key %q: %w", k.name, err)
	}
	out := make([]*Key, 0, len(offs))
	for _, o := range offs {
		sk, err := k.h.key(o)
		if err != nil {
			return nil, fmt.Errorf("key %q: subkey: %w", k.name, err)
		}
		out = append(out, sk)
	}
	return out, nil
}

// subkeyList collects key-node offsets from an li/lf/lh list, or from
// the lists an ri index points to (one level; depth guards against loops).
func (h *Hive) subkeyList(off uint32, out *[]uint32, depth int) error {
	if depth > 1 {
		return errors.New("subkey index nested too deep (corrupt hive)")
	}
	b, err := h.cell(off)
	if err != nil {
		return fmt.Errorf("subkey list: %w", err)
	}
	if len(b) < 4 {
		return errors.New("subkey list too short")
	}
	sig := string(b[:2])
	n := int(binary.LittleEndian.Uint16(b[2:]))
	stride := 4
	switch sig {
	case "lf", "lh":
		stride = 8
	case "li", "ri":
	default:
		return fmt.Errorf("unknown subkey list type %q", sig)
	}
	if 4+n*stride > len(b) {
		return fmt.Errorf("subkey list %q: %d entries overrun the cell", sig, n)
	}
	for i := 0; i < n; i++ {
		o := binary.LittleEndian.Uint32(b[4+i*stride:])
		if sig == "ri" {
			if err := h.subkeyList(o, out, depth+1); err != nil {
				return err
			}
			continue
		}
		if len(*out) >= maxSubkeys {
			return errors.New("too many subkeys")
		}
		*out = append(*out, o)
	}
	return nil
}

// Subkey finds a direct subkey by name (case-insensitive).
func (k *Key) Subkey(name string) (*Key, error) {
	subs, err := k.Subkeys()
	if err != nil {
		return nil, err
	}
	for _, s := range subs {
		if strings.EqualFold(s.name, name) {
			return s, nil
		}
	}
	return nil, fmt.Errorf("%w: %q has no subkey %q", ErrKeyNotFound, k.name, name)
}

// Value is a registry value ("vk" cell) with its data.
type Value struct {
	Name string
	Type uint32
	Data []byte
}

// Values lists the key's values with their data.
func (k *Key) Values() ([]Value, error) {
	n := binary.LittleEndian.Uint32(k.nk[36:])
	if n == 0 {
		return nil, nil
	}
	if n > maxValues {
		return nil, fmt.Errorf("key %q claims %d values", k.name, n)
	}
	list, err := k.h.cell(binary.LittleEndian.Uint32(k.nk[40:]))
	if err != nil {
		return nil, fmt.Errorf("key %q: value list: %w", k.name, err)
	}
	if int(n)*4 > len(list) {
		return nil, fmt.Errorf("key %q: value list of %d entries overruns its cell", k.name, n)
	}
	out := make([]Value, 0, n)
	for i := 0; i < int(n); i++ {
		v, err := k.h.value(binary.LittleEndian.Uint32(list[4*i:]))
		if err != nil {
			return nil, fmt.Errorf("key %q: %w", k.name, err)
		}
		out = append(out, v)
	}
	return out, nil
}

// Value finds a value by name (case-insensitive; "" is the default value).
func (k *Key) Value(name string) (Value, error) {
	vs, err := k.Values()
	if err != nil {
		return Value{}, err
	}
	for _, v := range vs {
		if strings.EqualFold(v.Name, name) {
			return v, nil
		}
	}
	return Value{}, fmt.Errorf("%w: %q in key %q", ErrNoValue, name, k.name)
}

func (h *Hive) value(off uint32) (Value, error) {
	b, err := h.cell(off)
	if err != nil {
		return Value{}, fmt.Errorf("value: %w", err)
	}
	if len(b) < 20 || string(b[:2]) != "vk" {
		return Value{}, fmt.Errorf("cell at 0x%x is not a value", off)
	}
	nlen := int(binary.LittleEndian.Uint16(b[2:]))
	if 20+nlen > len(b) {
		return Value{}, fmt.Errorf("value at 0x%x: name overruns the cell", off)
	}
	flags := binary.LittleEndian.Uint16(b[16:])
	v := Value{Name: decodeName(b[20:20+nlen], flags&1 != 0), Type: binary.LittleEndian.Uint32(b[12:])}
	size := binary.LittleEndian.Uint32(b[4:])
	doff := binary.LittleEndian.Uint32(b[8:])
	if size&0x80000000 != 0 { // data stored in the offset field itself
		size &^= 0x80000000
		if size > 4 {
			return Value{}, fmt.Errorf("value %q: resident data of %d bytes", v.Name, size)
		}
		v.Data = append([]byte(nil), b[8:8+size]...)
		return v, nil
	}
	if size == 0 {
		return v, nil
	}
	if size > maxValueData {
		return Value{}, fmt.Errorf("value %q: %d bytes of data", v.Name, size)
	}
	d, err := h.cell(doff)
	if err != nil {
		return Value{}, fmt.Errorf("value %q data: %w", v.Name, err)
	}
	if size > bigDataSegment && h.minor >= 4 && len(d) >= 8 && string(d[:2]) == "db" {
		v.Data, err = h.bigData(d, size)
		if err != nil {
			return Value{}, fmt.Errorf("value %q: %w", v.Name, err)
		}
		return v, nil
	}
	if int(size) > len(d) {
		return Value{}, fmt.Errorf("value %q: %d bytes of data in a %d-byte cell", v.Name, size, len(d))
	}
	v.Data = d[:size]
	return v, nil
}

// bigData joins the segments of a "db" record.
func (h *Hive) bigData(d []byte, size uint32) ([]byte, error) {
	n := int(binary.LittleEndian.Uint16(d[2:]))
	list, err := h.cell(binary.LittleEndian.Uint32(d[4:]))
	if err != nil {
		return nil, fmt.Errorf("big data segment list: %w", err)
	}
	if n*4 > len(list) {
		return nil, errors.New("big data segment list overruns its cell")
	}
	var buf bytes.Buffer
	for i := 0; i < n && uint32(buf.Len()) < size; i++ {
		seg, err := h.cell(binary.LittleEndian.Uint32(list[4*i:]))
		if err != nil {
			return nil, fmt.Errorf("big data segment %d: %w", i, err)
		}
		if len(seg) > bigDataSegment {
			seg = seg[:bigDataSegment]
		}
		buf.Write(seg)
	}
	if uint32(buf.Len()) < size {
		return nil, fmt.Errorf("big data: %d of %d bytes present", buf.Len(), size)
	}
	return buf.Bytes()[:size], nil
}

// String decodes REG_SZ / REG_EXPAND_SZ data (UTF-16LE, trailing NULs
// removed).
func (v Value) String() string {
	u := make([]uint16, len(v.Data)/2)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(v.Data[2*i:])
	}
	for len(u) > 0 && u[len(u)-1] == 0 {
		u = u[:len(u)-1]
	}
	if i := indexZero(u); i >= 0 {
		u = u[:i]
	}
	return string(utf16.Decode(u))
}

func indexZero(u []uint16) int {
	for i, c := range u {
		if c == 0 {
			return i
		}
	}
	return -1
}

// Uint32 decodes a REG_DWORD.
func (v Value) Uint32() (uint32, error) {
	if v.Type != RegDWORD || len(v.Data) != 4 {
		return 0, fmt.Errorf("value %q is not a REG_DWORD (type %d, %d bytes)", v.Name, v.Type, len(v.Data))
	}
	return binary.LittleEndian.Uint32(v.Data), nil
}
