package regf

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// TestPlanDisableServiceFixture: the hivex-made SYSTEM hive (Select Current
// = Default = 2, LastKnownGood = 1) with CSAgent Start = 1 in both control
// sets (spelled "csagent" in ControlSet002): the plan names both control
// sets, the bytes it would change hold 1, Apply changes exactly those, and
// hivex reads Start = 4 afterwards with nothing else in the export changed.
func TestPlanDisableServiceFixture(t *testing.T) {
	orig := fixture(t)
	hive := bytes.Clone(orig)
	p, err := PlanDisableService(hive, "CSAGENT") // case-insensitive
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(hive, orig) {
		t.Fatal("planning changed the hive")
	}
	if len(p.Sets) != 2 {
		t.Fatalf("plan has %d control sets, want 2:\n%s", len(p.Sets), p)
	}
	want := []struct {
		set, path, by string
	}{
		{"ControlSet002", `ControlSet002\Services\csagent`, "Current,Default"},
		{"ControlSet001", `ControlSet001\Services\CSAgent`, "LastKnownGood"},
	}
	for i, c := range p.Sets {
		if c.ControlSet != want[i].set || c.KeyPath != want[i].path || strings.Join(c.Selected, ",") != want[i].by {
			t.Errorf("set %d: %s %s %v, want %+v", i, c.ControlSet, c.KeyPath, c.Selected, want[i])
		}
		if c.Old != 1 || c.New != 4 || !c.Needed() || !c.Inline {
			t.Errorf("set %d: old %d new %d inline %v", i, c.Old, c.New, c.Inline)
		}
		if got := hive[c.Offset : c.Offset+4]; !bytes.Equal(got, []byte{1, 0, 0, 0}) || !bytes.Equal(got, c.Before[:]) {
			t.Errorf("set %d: hive holds % x at 0x%x, before-image % x", i, got, c.Offset, c.Before)
		}
		if c.Offset%4 != 0 || c.Offset/512 != (c.Offset+3)/512 {
			t.Errorf("set %d: offset 0x%x: the 4 bytes are not aligned in one sector", i, c.Offset)
		}
	}
	ws := p.Writes()
	if len(ws) != 2 {
		t.Fatalf("%d writes", len(ws))
	}
	if err := Apply(hive, p); err != nil {
		t.Fatal(err)
	}
	// exactly the 8 planned bytes changed; base block untouched
	ndiff := 0
	for i := range hive {
		if hive[i] != orig[i] {
			ndiff++
			in := false
			for _, w := range ws {
				in = in || (int64(i) >= w.Offset && int64(i) < w.Offset+4)
			}
			if !in {
				t.Errorf("byte 0x%x changed outside the plan", i)
			}
		}
	}
	if ndiff != 2 { // 01 -> 04 in each of two DWORDs
		t.Errorf("%d bytes changed, want 2", ndiff)
	}
	if err := Verify(hive, "csagent"); err != nil {
		t.Fatal(err)
	}
	if err := Verify(orig, "csagent"); !errors.Is(err, ErrNotDisabled) {
		t.Fatalf("Verify of the original: %v, want ErrNotDisabled", err)
	}
	// again: nothing to do
	p2, err := PlanDisableService(hive, "CSAgent")
	if err != nil || !p2.NothingToDo() || len(p2.Sets) != 2 {
		t.Fatalf("second plan: %v %+v", err, p2)
	}

	// hivex, the independent reader
	for _, k := range []string{`ControlSet001\Services\CSAgent`, `ControlSet002\Services\csagent`} {
		if got := hivexget(t, orig, k, "Start"); got != "1" {
			t.Errorf("hivexget before %s: %q", k, got)
		}
		if got := hivexget(t, hive, k, "Start"); got != "4" {
			t.Errorf("hivexget after %s: %q, want 4", k, got)
		}
	}
	d := exportDiff(t, hivexExport(t, orig), hivexExport(t, hive))
	if len(d) != 2 {
		t.Fatalf("export differs in %d lines, want 2: %q", len(d), d)
	}
	for _, x := range d {
		if x[1] != `"Start"=dword:00000001` || x[2] != `"Start"=dword:00000004` {
			t.Errorf("export diff under %s: %q -> %q", x[0], x[1], x[2])
		}
	}
	if d[0][0] != `[\ControlSet001\Services\CSAgent]` || d[1][0] != `[\ControlSet002\Services\csagent]` {
		t.Errorf("changed keys %q, %q", d[0][0], d[1][0])
	}
}

// TestPlanPartial: Start already 4 in one control set: only the other is written.
func TestPlanPartial(t *testing.T) {
	hive := fixture(t)
	p, err := PlanDisableService(hive, "Half")
	if err != nil {
		t.Fatal(err)
	}
	ws := p.Writes()
	if len(ws) != 1 || p.Sets[0].Old != 2 || p.Sets[1].Old != 4 || p.Sets[1].Needed() {
		t.Fatalf("plan:\n%s", p)
	}
	if !strings.Contains(p.String(), "already 4") {
		t.Errorf("plan text does not report the disabled set:\n%s", p)
	}
	if err := Apply(hive, p); err != nil {
		t.Fatal(err)
	}
	if err := Verify(hive, "Half"); err != nil {
		t.Fatal(err)
	}
	if got := hivexget(t, hive, `ControlSet002\Services\Half`, "Start"); got != "4" {
		t.Errorf("hivexget: %q", got)
	}
}

// TestPlanNothingToDo: Start already 4 everywhere is a report, not an error.
func TestPlanNothingToDo(t *testing.T) {
	p, err := PlanDisableService(fixture(t), "Off")
	if err != nil {
		t.Fatal(err)
	}
	if !p.NothingToDo() || len(p.Sets) != 2 || len(p.Writes()) != 0 {
		t.Fatalf("plan:\n%s", p)
	}
}

// TestPlanRefusals: every refusal is typed, says what to do, and leaves the
// hive as it was.
func TestPlanRefusals(t *testing.T) {
	cases := []struct {
		name    string
		service string
		edit    func([]byte)
		reason  error
		text    string
	}{
		{"no start value", "NoStart", nil, ErrNoValue, `has no Start value`},
		{"REG_SZ start", "SzStart", nil, ErrWrongType, `type 1`},
		{"5-byte dword", "LongStart", nil, ErrWrongType, `5 bytes`},
		{"missing in ControlSet002", "Only1", nil, ErrNoServiceKey, `ControlSet002\Services\Only1 does not exist`},
		{"dirty", "CSAgent", func(b []byte) { setSeq(b, le.Uint32(b[8:])+1) }, ErrDirty, ".LOG1/.LOG2 first"},
		{"checksum", "CSAgent", func(b []byte) { b[508] ^= 0x40 }, ErrChecksum, "stored 0x"},
		{"checksum of a field", "CSAgent", func(b []byte) { b[12]++ }, ErrChecksum, "computed 0x"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			hive := fixture(t)
			if c.edit != nil {
				c.edit(hive)
			}
			before := bytes.Clone(hive)
			p, err := PlanDisableService(hive, c.service)
			if err == nil {
				t.Fatalf("planned:\n%s", p)
			}
			var re *RefusedError
			if !errors.As(err, &re) || !errors.Is(err, ErrRefused) || !errors.Is(err, c.reason) {
				t.Fatalf("error %T %v, want a refusal for %v", err, err, c.reason)
			}
			if re.Hint == "" || !strings.Contains(err.Error(), c.text) {
				t.Errorf("error %q lacks %q or a hint", err, c.text)
			}
			if !bytes.Equal(hive, before) {
				t.Error("hive changed")
			}
			if err := Verify(hive, c.service); !errors.Is(err, c.reason) {
				t.Errorf("Verify: %v", err)
			}
		})
	}
}

// TestPlanNotInstalled: a service whose key no selected control set has
// is not installed on the host: nothing to do, not a refusal (a pack for
// one product must not refuse every host that lacks it). Present in some
// control sets and missing in others stays a refusal (TestPlanRefusals).
func TestPlanNotInstalled(t *testing.T) {
	hive := fixture(t)
	before := bytes.Clone(hive)
	p, err := PlanDisableService(hive, "NoSuchDriver")
	if err != nil {
		t.Fatal(err)
	}
	if !p.NotInstalled || len(p.Sets) != 0 || !p.NothingToDo() || len(p.Writes()) != 0 {
		t.Fatalf("plan %+v", p)
	}
	if !bytes.Equal(hive, before) {
		t.Error("hive changed")
	}
}

// TestApplyChangedHive: a hive that no longer holds the before-images is
// not written at all.
func TestApplyChangedHive(t *testing.T) {
	hive := fixture(t)
	p, err := PlanDisableService(hive, "CSAgent")
	if err != nil {
		t.Fatal(err)
	}
	ws := p.Writes()
	hive[ws[1].Offset] = 3 // second write's bytes changed since planning
	before := bytes.Clone(hive)
	if err := Apply(hive, p); !errors.Is(err, ErrHiveChanged) {
		t.Fatalf("Apply: %v", err)
	}
	if !bytes.Equal(hive, before) {
		t.Fatal("Apply wrote although a before-image did not match")
	}
}

// TestSelectRefusals: Select missing or naming a control set that is absent.
func TestSelectRefusals(t *testing.T) {
	hive := fixture(t)
	h, err := Parse(hive)
	if err != nil {
		t.Fatal(err)
	}
	root, _ := h.Root()
	sel, err := root.Subkey("select")
	if err != nil || sel == nil {
		t.Fatal(err)
	}
	lkg, err := sel.Value("lastknowngood")
	if err != nil || lkg == nil || !lkg.Inline {
		t.Fatal(err)
	}
	le.PutUint32(hive[lkg.DataFile:], 7)
	if _, err := PlanDisableService(hive, "CSAgent"); !errors.Is(err, ErrNoControlSet) || !strings.Contains(err.Error(), "ControlSet007") {
		t.Fatalf("LastKnownGood = 7: %v", err)
	}
	le.PutUint32(hive[lkg.DataFile:], 0) // 0: names no control set
	p, err := PlanDisableService(hive, "CSAgent")
	if err != nil || len(p.Sets) != 1 || p.Sets[0].ControlSet != "ControlSet002" {
		t.Fatalf("LastKnownGood = 0: %v %v", err, p)
	}
	// rename the Select key node's name in place: "Select" -> "Xelect"
	name := FileOffset(sel.Off) + 4 + nkName
	hive[name] = 'X'
	if _, err := PlanDisableService(hive, "CSAgent"); !errors.Is(err, ErrNoSelect) {
		t.Fatalf("no Select: %v", err)
	}
}
