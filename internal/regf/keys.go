package regf

import (
	"strings"
	"unicode"
	"unicode/utf16"
)

// Key node ("nk") field offsets, relative to the cell data.
const (
	nkFlags      = 2
	nkSubkeys    = 20
	nkSubkeyList = 28
	nkValues     = 36
	nkValueList  = 40
	nkNameLen    = 72
	nkName       = 76

	nkCompName = 0x0020 // KEY_COMP_NAME: name is Latin-1 ("ASCII")
)

// Key value ("vk") field offsets, relative to the cell data.
const (
	vkNameLen  = 2
	vkDataSize = 4
	vkDataOff  = 8
	vkType     = 12
	vkFlags    = 16
	vkName     = 20

	vkCompName   = 0x0001
	dataInline   = 0x80000000 // Data size top bit: data lives in the Data offset field
	maxInlineLen = 4
)

// Key is a key node.
type Key struct {
	h    *Hive
	Off  uint32 // cell offset, relative to the hive bins data
	Name string
	nk   []byte
}

// Root is the hive's root key.
func (h *Hive) Root() (*Key, error) { return h.key(h.Base.RootCell) }

func (h *Hive) key(off uint32) (*Key, error) {
	b, err := h.cell(off, "nk")
	if err != nil {
		return nil, err
	}
	abs := FileOffset(off) + 4
	if len(b) < nkName {
		return nil, formatErr("nk", abs, "", "cell of %d bytes is too short for a key node", len(b))
	}
	if string(b[:2]) != "nk" {
		return nil, formatErr("nk", abs, "Signature", "%q, want \"nk\"", b[:2])
	}
	n := int(le.Uint16(b[nkNameLen:]))
	if nkName+n > len(b) {
		return nil, formatErr("nk", abs+nkNameLen, "Key name length", "%d bytes overrun the %d-byte cell", n, len(b))
	}
	return &Key{h: h, Off: off, nk: b, Name: decodeName(b[nkName:nkName+n], le.Uint16(b[nkFlags:])&nkCompName != 0)}, nil
}

// decodeName decodes a key or value name: Latin-1 when compressed, else UTF-16LE.
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
		u[i] = le.Uint16(b[2*i:])
	}
	return string(utf16.Decode(u))
}

// sameName compares names as the registry does: case-insensitively, by
// upper-casing each character (Windows upcases with its own table;
// unicode.ToUpper agrees with it on every character a service name uses).
func sameName(a, b string) bool {
	ra, rb := []rune(a), []rune(b)
	if len(ra) != len(rb) {
		return false
	}
	for i := range ra {
		if unicode.ToUpper(ra[i]) != unicode.ToUpper(rb[i]) {
			return false
		}
	}
	return true
}

// subkeyOffsets collects the key node offsets of k's subkeys from its
// subkey list: li, lf, lh, or an ri whose elements are li/lf/lh lists (an
// ri never points to an ri, per the specification; refused here, which
// also bounds the recursion).
func (k *Key) subkeyOffsets() ([]uint32, error) {
	n := le.Uint32(k.nk[nkSubkeys:])
	if n == 0 {
		return nil, nil
	}
	abs := FileOffset(k.Off) + 4
	if n > maxSubkeys {
		return nil, formatErr("nk", abs+nkSubkeys, "Number of subkeys", "%d is more than %d", n, maxSubkeys)
	}
	out := make([]uint32, 0, min(n, 1024))
	if err := k.h.subkeyList(le.Uint32(k.nk[nkSubkeyList:]), &out, int(n), false); err != nil {
		return nil, err
	}
	if uint32(len(out)) != n {
		return nil, formatErr("nk", abs+nkSubkeys, "Number of subkeys", "%d, but its subkey lists hold %d", n, len(out))
	}
	return out, nil
}

// subkeyList appends the key node offsets of the list at off to out,
// refusing more than limit in all (the key node's count: a corrupt list
// cannot make the walk longer than the key claims).
func (h *Hive) subkeyList(off uint32, out *[]uint32, limit int, inRoot bool) error {
	b, err := h.cell(off, "subkey list")
	if err != nil {
		return err
	}
	abs := FileOffset(off) + 4
	if len(b) < 4 {
		return formatErr("subkey list", abs, "", "cell of %d bytes is too short", len(b))
	}
	sig := string(b[:2])
	n := int(le.Uint16(b[2:]))
	stride := 4
	switch sig {
	case "lf", "lh":
		stride = 8
	case "li":
	case "ri":
		if inRoot {
			return formatErr("ri", abs, "Signature", "an index root points to another index root")
		}
	default:
		return formatErr("subkey list", abs, "Signature", "%q, want li, lf, lh or ri", sig)
	}
	if 4+n*stride > len(b) {
		return formatErr(sig, abs+2, "Number of elements", "%d elements of %d bytes overrun the %d-byte cell", n, stride, len(b))
	}
	for i := 0; i < n; i++ {
		o := le.Uint32(b[4+i*stride:])
		if sig == "ri" {
			if err := h.subkeyList(o, out, limit, true); err != nil {
				return err
			}
			continue
		}
		if len(*out) >= limit {
			return formatErr(sig, abs+2, "Number of elements", "the subkey lists hold more than the key node's %d subkeys", limit)
		}
		*out = append(*out, o)
	}
	return nil
}

// Subkeys lists k's subkeys.
func (k *Key) Subkeys() ([]*Key, error) {
	offs, err := k.subkeyOffsets()
	if err != nil {
		return nil, err
	}
	out := make([]*Key, 0, len(offs))
	for _, o := range offs {
		sk, err := k.h.key(o)
		if err != nil {
			return nil, err
		}
		out = append(out, sk)
	}
	return out, nil
}

// Subkey finds a direct subkey by name (case-insensitive); nil, nil when
// there is none.
func (k *Key) Subkey(name string) (*Key, error) {
	subs, err := k.Subkeys()
	if err != nil {
		return nil, err
	}
	var found *Key
	for _, s := range subs {
		if sameName(s.Name, name) {
			if found != nil {
				return nil, formatErr("nk", FileOffset(s.Off)+4, "Key name string", "two subkeys of %q are named %q", k.Name, name)
			}
			found = s
		}
	}
	return found, nil
}

// Lookup follows a path of subkey names separated by '\' from k; nil, nil
// when a component is missing.
func (k *Key) Lookup(path string) (*Key, error) {
	cur := k
	for _, c := range strings.Split(path, `\`) {
		if c == "" {
			continue
		}
		next, err := cur.Subkey(c)
		if err != nil || next == nil {
			return nil, err
		}
		cur = next
	}
	return cur, nil
}

// Value is a key value ("vk") and where its data lies.
type Value struct {
	Off        uint32 // vk cell offset, relative to the hive bins data
	Name       string
	Type       uint32
	Size       uint32 // data size, inline bit cleared
	Inline     bool   // data stored in the vk's Data offset field
	DataFile   int64  // file offset of the first data byte
	Data       []byte // the data (a view into the hive; not for big data)
	BigData    bool   // data in a "db" record: Data and DataFile unset
	dataOffset uint32
}

// Values lists k's values.
func (k *Key) Values() ([]*Value, error) {
	n := le.Uint32(k.nk[nkValues:])
	if n == 0 {
		return nil, nil
	}
	abs := FileOffset(k.Off) + 4
	if n > maxValues {
		return nil, formatErr("nk", abs+nkValues, "Number of key values", "%d is more than %d", n, maxValues)
	}
	listOff := le.Uint32(k.nk[nkValueList:])
	list, err := k.h.cell(listOff, "value list")
	if err != nil {
		return nil, err
	}
	if int(n)*4 > len(list) {
		return nil, formatErr("value list", FileOffset(listOff)+4, "", "%d elements overrun the %d-byte cell (count from the key node at 0x%x)", n, len(list), abs)
	}
	out := make([]*Value, 0, n)
	for i := 0; i < int(n); i++ {
		v, err := k.h.value(le.Uint32(list[4*i:]))
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// Value finds a value by name (case-insensitive; "" is the default
// value); nil, nil when there is none.
func (k *Key) Value(name string) (*Value, error) {
	vs, err := k.Values()
	if err != nil {
		return nil, err
	}
	var found *Value
	for _, v := range vs {
		if sameName(v.Name, name) {
			if found != nil {
				return nil, formatErr("vk", FileOffset(v.Off)+4, "Name", "two values of key %q are named %q", k.Name, name)
			}
			found = v
		}
	}
	return found, nil
}

func (h *Hive) value(off uint32) (*Value, error) {
	b, err := h.cell(off, "vk")
	if err != nil {
		return nil, err
	}
	abs := FileOffset(off) + 4
	if len(b) < vkName {
		return nil, formatErr("vk", abs, "", "cell of %d bytes is too short for a key value", len(b))
	}
	if string(b[:2]) != "vk" {
		return nil, formatErr("vk", abs, "Signature", "%q, want \"vk\"", b[:2])
	}
	nlen := int(le.Uint16(b[vkNameLen:]))
	if vkName+nlen > len(b) {
		return nil, formatErr("vk", abs+vkNameLen, "Name length", "%d bytes overrun the %d-byte cell", nlen, len(b))
	}
	v := &Value{
		Off:        off,
		Name:       decodeName(b[vkName:vkName+nlen], le.Uint16(b[vkFlags:])&vkCompName != 0),
		Type:       le.Uint32(b[vkType:]),
		dataOffset: le.Uint32(b[vkDataOff:]),
	}
	size := le.Uint32(b[vkDataSize:])
	if size&dataInline != 0 {
		v.Inline = true
		v.Size = size &^ dataInline
		if v.Size > maxInlineLen {
			return nil, formatErr("vk", abs+vkDataSize, "Data size", "0x%x: inline data of %d bytes, at most 4 fit", size, v.Size)
		}
		v.DataFile = abs + vkDataOff
		v.Data = b[vkDataOff : vkDataOff+v.Size]
		return v, nil
	}
	v.Size = size
	if size == 0 {
		return v, nil
	}
	d, err := h.cell(v.dataOffset, "value data")
	if err != nil {
		return nil, err
	}
	if h.Base.Minor >= 4 && size > 16344 && len(d) >= 2 && string(d[:2]) == "db" {
		v.BigData = true // not needed here: big data is never a DWORD
		return v, nil
	}
	if int(size) > len(d) {
		return nil, formatErr("vk", abs+vkDataSize, "Data size", "%d bytes, but the data cell at 0x%x holds %d", size, FileOffset(v.dataOffset), len(d))
	}
	v.DataFile = FileOffset(v.dataOffset) + 4
	v.Data = d[:size]
	return v, nil
}
