package regf

import "unicode/utf16"

// A small hive writer for tests: it lays out the structures of the
// specification (see doc.go) so that tests can reach the cases hivex does
// not write (li, lf and ri subkey lists, 4-byte data in its own cell,
// UTF-16 names) and can corrupt chosen fields. hivex reads its output,
// which checks the writer.

type tkey struct {
	name  string
	utf16 bool   // name stored as UTF-16LE (else Latin-1, KEY_COMP_NAME)
	list  string // "lf" (default), "lh", "li", or "ri" (two lh lists)
	subs  []*tkey
	vals  []tval
}

type tval struct {
	name     string
	typ      uint32
	data     []byte
	external bool // data of at most 4 bytes in its own cell (not inline)
}

type tbuild struct{ bins []byte }

// cell appends an allocated cell holding data and returns its offset.
func (b *tbuild) cell(data []byte) uint32 {
	off := uint32(len(b.bins))
	size := (4 + len(data) + 7) &^ 7
	c := make([]byte, size)
	le.PutUint32(c, uint32(-int32(size)))
	copy(c[4:], data)
	b.bins = append(b.bins, c...)
	return off
}

func name16(s string) []byte {
	u := utf16.Encode([]rune(s))
	out := make([]byte, 2*len(u))
	for i, c := range u {
		le.PutUint16(out[2*i:], c)
	}
	return out
}

func (b *tbuild) value(v tval) uint32 {
	vk := make([]byte, vkName+len(v.name))
	copy(vk, "vk")
	le.PutUint16(vk[vkNameLen:], uint16(len(v.name)))
	le.PutUint32(vk[vkType:], v.typ)
	le.PutUint16(vk[vkFlags:], vkCompName)
	copy(vk[vkName:], v.name)
	if len(v.data) <= 4 && !v.external {
		le.PutUint32(vk[vkDataSize:], uint32(len(v.data))|dataInline)
		copy(vk[vkDataOff:], v.data)
	} else {
		le.PutUint32(vk[vkDataSize:], uint32(len(v.data)))
		le.PutUint32(vk[vkDataOff:], b.cell(v.data))
	}
	return b.cell(vk)
}

func (b *tbuild) list(sig string, offs []uint32) uint32 {
	stride := 8
	if sig == "li" || sig == "ri" {
		stride = 4
	}
	l := make([]byte, 4+stride*len(offs))
	copy(l, sig)
	le.PutUint16(l[2:], uint16(len(offs)))
	for i, o := range offs {
		le.PutUint32(l[4+i*stride:], o)
	}
	return b.cell(l)
}

func (b *tbuild) key(k *tkey) uint32 {
	var subs []uint32
	for _, s := range k.subs {
		subs = append(subs, b.key(s))
	}
	var vals []uint32
	for _, v := range k.vals {
		vals = append(vals, b.value(v))
	}
	nameBytes := []byte(k.name)
	flags := uint16(nkCompName)
	if k.utf16 {
		nameBytes, flags = name16(k.name), 0
	}
	nk := make([]byte, nkName+len(nameBytes))
	copy(nk, "nk")
	le.PutUint16(nk[nkFlags:], flags)
	le.PutUint32(nk[nkSubkeys:], uint32(len(subs)))
	le.PutUint32(nk[nkSubkeyList:], 0xffffffff)
	le.PutUint32(nk[nkValueList:], 0xffffffff)
	le.PutUint32(nk[44:], 0xffffffff) // no security cell: hivex does not need it
	le.PutUint32(nk[48:], 0xffffffff) // no class name
	le.PutUint16(nk[nkNameLen:], uint16(len(nameBytes)))
	copy(nk[nkName:], nameBytes)
	if len(subs) > 0 {
		switch k.list {
		case "ri":
			h := len(subs) / 2
			a, c := b.list("lh", subs[:h]), b.list("lh", subs[h:])
			le.PutUint32(nk[nkSubkeyList:], b.list("ri", []uint32{a, c}))
		case "", "lf":
			le.PutUint32(nk[nkSubkeyList:], b.list("lf", subs))
		default:
			le.PutUint32(nk[nkSubkeyList:], b.list(k.list, subs))
		}
	}
	if len(vals) > 0 {
		l := make([]byte, 4*len(vals))
		for i, o := range vals {
			le.PutUint32(l[4*i:], o)
		}
		le.PutUint32(nk[nkValues:], uint32(len(vals)))
		le.PutUint32(nk[nkValueList:], b.cell(l))
	}
	off := b.cell(nk)
	for _, s := range subs {
		le.PutUint32(b.bins[s+4+16:], off) // Parent
	}
	return off
}

// buildHive writes a one-bin hive with root key root.
func buildHive(root *tkey) []byte {
	b := &tbuild{bins: make([]byte, binHeaderSize)}
	rootOff := b.key(root)
	nk := b.bins[rootOff+4:]
	le.PutUint16(nk[nkFlags:], le.Uint16(nk[nkFlags:])|0x0c) // KEY_HIVE_ENTRY | KEY_NO_DELETE
	size := (len(b.bins) + binAlign - 1) &^ (binAlign - 1)
	if rest := size - len(b.bins); rest > 0 {
		free := make([]byte, rest)
		le.PutUint32(free, uint32(rest))
		b.bins = append(b.bins, free...)
	}
	copy(b.bins, "hbin")
	le.PutUint32(b.bins[8:], uint32(size))
	hive := make([]byte, BaseBlockSize, BaseBlockSize+size)
	copy(hive, "regf")
	le.PutUint32(hive[4:], 1)
	le.PutUint32(hive[8:], 1)
	le.PutUint32(hive[20:], 1)
	le.PutUint32(hive[24:], 5)
	le.PutUint32(hive[32:], 1)
	le.PutUint32(hive[36:], rootOff)
	le.PutUint32(hive[40:], uint32(size))
	le.PutUint32(hive[44:], 1)
	le.PutUint32(hive[508:], Checksum(hive))
	return append(hive, b.bins...)
}

func dword(v uint32) []byte { b := make([]byte, 4); le.PutUint32(b, v); return b }

// testSystem is a SYSTEM hive with Select Current = 1, Default = 1,
// LastKnownGood = 3; ControlSet001's Services under an ri index with
// CSAgent's Start in its own cell, ControlSet003's under an li with a
// UTF-16 key name.
func testSystem() *tkey {
	svc := func(name string, utf bool, start tval) *tkey {
		return &tkey{name: name, utf16: utf, vals: []tval{{name: "Type", typ: RegDWORD, data: dword(2)}, start}}
	}
	many := func(list string, extra *tkey) *tkey {
		s := &tkey{name: "Services", list: list}
		for _, n := range []string{"ACPI", "BEEP", "Disk", "Null", "Tcpip"} {
			s.subs = append(s.subs, svc(n, false, tval{name: "Start", typ: RegDWORD, data: dword(3)}))
		}
		s.subs = append(s.subs, extra)
		return s
	}
	return &tkey{name: "ROOT", subs: []*tkey{
		{name: "ControlSet001", list: "lh", subs: []*tkey{
			{name: "Control"},
			many("ri", svc("CSAgent", false, tval{name: "Start", typ: RegDWORD, data: dword(1), external: true})),
		}},
		{name: "ControlSet003", list: "li", subs: []*tkey{
			many("li", svc("CSAgent", true, tval{name: "START", typ: RegDWORD, data: dword(0)})),
		}},
		{name: "Select", vals: []tval{
			{name: "Current", typ: RegDWORD, data: dword(1)},
			{name: "Default", typ: RegDWORD, data: dword(1)},
			{name: "Failed", typ: RegDWORD, data: dword(0)},
			{name: "LastKnownGood", typ: RegDWORD, data: dword(3)},
		}},
	}}
}
