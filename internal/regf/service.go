package regf

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Registry value types used here.
const (
	RegDWORD = 4

	// StartDisabled is SERVICE_DISABLED, the Start value of a service
	// (driver) the service control manager and the kernel do not load.
	StartDisabled = 4
)

// selectNames are the Select values that name a control set, in the
// order reported.
var selectNames = []string{"Current", "Default", "LastKnownGood"}

// Plan is what PlanDisableService found: per control set Select names,
// the four bytes of the service's Start value. Nothing is allocated or
// resized and the base block is not written (see the package doc).
type Plan struct {
	Service string
	Sets    []SetChange // one per distinct control set named by Select
	// NotInstalled: no control set that Select names has the service's
	// key (the product is not installed on this host): nothing to do, and
	// Sets is empty. A key present in some selected control sets and
	// missing in others is refused instead (ErrNoServiceKey).
	NotInstalled bool
}

// SetChange is one control set's Start value.
type SetChange struct {
	ControlSet string   // "ControlSet001"
	Selected   []string // Select values naming it: "Current", "Default", "LastKnownGood"
	KeyPath    string   // `ControlSet001\Services\CSAgent`, as the hive spells it
	Offset     int64    // file offset of the 4 data bytes in the hive
	Inline     bool     // data in the vk cell's Data offset field (the usual case)
	Old, New   uint32
	Before     [4]byte
	After      [4]byte
}

// Needed reports whether the control set needs the change (Start not yet 4).
func (c SetChange) Needed() bool { return c.Old != c.New }

// Write is one byte range to write in the hive file.
type Write struct {
	Offset int64 // in the hive file
	Before []byte
	After  []byte
}

// Writes lists the byte ranges to change, in hive file offset order, each
// once (two control sets whose keys share a value cell give one write);
// empty when the service is already disabled in every control set.
func (p *Plan) Writes() []Write {
	var w []Write
	seen := map[int64]bool{}
	for _, c := range p.Sets {
		if c.Needed() && !seen[c.Offset] {
			seen[c.Offset] = true
			w = append(w, Write{Offset: c.Offset, Before: c.Before[:], After: c.After[:]})
		}
	}
	sort.Slice(w, func(i, j int) bool { return w[i].Offset < w[j].Offset })
	return w
}

// NothingToDo reports whether Start is already 4 in every control set.
func (p *Plan) NothingToDo() bool { return len(p.Writes()) == 0 }

// String is a human summary, one line per control set.
func (p *Plan) String() string {
	var b strings.Builder
	for _, c := range p.Sets {
		state := fmt.Sprintf("Start %d -> %d at hive offset 0x%x", c.Old, c.New, c.Offset)
		if !c.Needed() {
			state = "Start already 4 (disabled), nothing to do"
		}
		fmt.Fprintf(&b, "%s (%s): %s\n", c.KeyPath, strings.Join(c.Selected, ", "), state)
	}
	return b.String()
}

const (
	hintDirty    = "Windows must replay the hive's .LOG1/.LOG2 first: boot Windows once or use a tool that replays hive logs"
	hintChecksum = "the base block is damaged; Windows would recover it from the .LOG1/.LOG2 files: boot Windows once or use a tool that replays hive logs"
	hintMissing  = "check the service name (the key name under Services, not the display name); nothing was changed"
	hintType     = "the Start value is not a 4-byte REG_DWORD: fix it by hand with a registry editor; nothing was changed"
	hintSelect   = "not a SYSTEM hive with a valid Select key; nothing was changed"
)

// checkWritable refuses a hive whose base block says the file alone is not
// the hive's current state.
func checkWritable(bb *BaseBlock) error {
	if !bb.ChecksumOK() {
		return refuse(ErrChecksum, hintChecksum, "stored 0x%08x, computed 0x%08x", bb.Checksum, bb.ComputedCksum)
	}
	if !bb.Clean() {
		return refuse(ErrDirty, hintDirty, "primary sequence number %d, secondary %d", bb.PrimarySeq, bb.SecondarySeq)
	}
	return nil
}

// PlanDisableService plans setting Start = 4 for service in every control
// set the SYSTEM hive's Select key names (Current, Default, LastKnownGood).
// It writes nothing. Refusals are *RefusedError; malformed hives
// *FormatError.
func PlanDisableService(hive []byte, service string) (*Plan, error) {
	if service == "" || strings.ContainsAny(service, `\/`) {
		return nil, fmt.Errorf("regf: bad service name %q", service)
	}
	h, err := Parse(hive)
	if err != nil {
		return nil, err
	}
	if err := checkWritable(h.Base); err != nil {
		return nil, err
	}
	if err := h.WalkCells(nil); err != nil {
		return nil, err
	}
	root, err := h.Root()
	if err != nil {
		return nil, err
	}
	sets, err := selectedSets(root)
	if err != nil {
		return nil, err
	}
	p := &Plan{Service: service}
	var missing error
	for _, s := range sets {
		c, err := planSet(root, s.name, s.by, service)
		if errors.Is(err, ErrNoServiceKey) {
			if missing == nil {
				missing = err
			}
			continue
		}
		if err != nil {
			return nil, err
		}
		p.Sets = append(p.Sets, c)
	}
	switch {
	case missing != nil && len(p.Sets) == 0:
		p.NotInstalled = true
	case missing != nil:
		return nil, missing
	}
	return p, nil
}

type namedSet struct {
	name string
	by   []string
}

// selectedSets reads Select's Current, Default and LastKnownGood (each a
// REG_DWORD N naming ControlSet00N; 0 or absent names none, except that
// Current is required) and returns the distinct control sets.
func selectedSets(root *Key) ([]namedSet, error) {
	sel, err := root.Subkey("Select")
	if err != nil {
		return nil, err
	}
	if sel == nil {
		return nil, refuse(ErrNoSelect, hintSelect, "no Select key under the root key %q", root.Name)
	}
	var out []namedSet
	for _, name := range selectNames {
		v, err := sel.Value(name)
		if err != nil {
			return nil, err
		}
		if v == nil {
			if name == "Current" {
				return nil, refuse(ErrNoSelect, hintSelect, `no Select\Current value`)
			}
			continue
		}
		if v.Type != RegDWORD || len(v.Data) != 4 {
			return nil, refuse(ErrNoSelect, hintSelect, `Select\%s is type %d with %d bytes, want a REG_DWORD`, name, v.Type, v.Size)
		}
		n := le.Uint32(v.Data)
		if n == 0 && name != "Current" {
			continue
		}
		if n == 0 || n > 999 {
			return nil, refuse(ErrNoSelect, hintSelect, `Select\%s = %d does not name a control set (1..999)`, name, n)
		}
		cs := fmt.Sprintf("ControlSet%03d", n)
		found := false
		for i := range out {
			if out[i].name == cs {
				out[i].by = append(out[i].by, name)
				found = true
			}
		}
		if !found {
			out = append(out, namedSet{name: cs, by: []string{name}})
		}
	}
	return out, nil
}

func planSet(root *Key, cs string, by []string, service string) (SetChange, error) {
	c := SetChange{ControlSet: cs, Selected: by, New: StartDisabled}
	set, err := root.Subkey(cs)
	if err != nil {
		return c, err
	}
	if set == nil {
		return c, refuse(ErrNoControlSet, hintSelect, "Select %s names %s, which the hive does not have", strings.Join(by, ", "), cs)
	}
	svcs, err := set.Subkey("Services")
	if err != nil {
		return c, err
	}
	var svc *Key
	if svcs != nil {
		if svc, err = svcs.Subkey(service); err != nil {
			return c, err
		}
	}
	if svc == nil {
		return c, refuse(ErrNoServiceKey, hintMissing, `%s\Services\%s does not exist (control set named by Select %s)`, set.Name, service, strings.Join(by, ", "))
	}
	c.KeyPath = set.Name + `\` + svcs.Name + `\` + svc.Name
	v, err := svc.Value("Start")
	if err != nil {
		return c, err
	}
	if v == nil {
		return c, refuse(ErrNoValue, hintMissing, `%s has no Start value`, c.KeyPath)
	}
	if v.Type != RegDWORD || v.Size != 4 || v.BigData || len(v.Data) != 4 {
		return c, refuse(ErrWrongType, hintType, `%s\Start is type %d with %d bytes of data`, c.KeyPath, v.Type, v.Size)
	}
	c.Offset, c.Inline = v.DataFile, v.Inline
	copy(c.Before[:], v.Data)
	c.Old = le.Uint32(v.Data)
	le.PutUint32(c.After[:], c.New)
	return c, nil
}

// Apply makes p's writes in hive (a copy of the file the plan was made
// from). It first checks every before-image and writes nothing if one does
// not match (ErrHiveChanged).
func Apply(hive []byte, p *Plan) error {
	ws := p.Writes()
	for _, w := range ws {
		if w.Offset < BaseBlockSize || w.Offset+int64(len(w.Before)) > int64(len(hive)) {
			return fmt.Errorf("%w: write at 0x%x is outside the hive bins data", ErrHiveChanged, w.Offset)
		}
		if !bytes.Equal(hive[w.Offset:w.Offset+int64(len(w.Before))], w.Before) {
			return fmt.Errorf("%w at file offset 0x%x", ErrHiveChanged, w.Offset)
		}
	}
	for _, w := range ws {
		copy(hive[w.Offset:], w.After)
	}
	return nil
}

// Verify re-reads hive from scratch and checks that service's Start is 4
// in every control set Select names, with the base block still clean and
// its checksum right.
func Verify(hive []byte, service string) error {
	p, err := PlanDisableService(hive, service)
	if err != nil {
		return err
	}
	for _, c := range p.Sets {
		if c.Needed() {
			return fmt.Errorf("%w: %s\\Start is %d", ErrNotDisabled, c.KeyPath, c.Old)
		}
	}
	return nil
}
