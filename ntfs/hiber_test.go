package ntfs

import (
	"errors"
	"strings"
	"testing"
)

func TestClassifyHiberHeader(t *testing.T) {
	page := func(sig string) []byte { b := make([]byte, 4096); copy(b, sig); return b }
	junk := page("????")
	junk[100] = 1
	cases := []struct {
		hdr   []byte
		size  int64
		state string
		live  bool
	}{
		{page("hibr"), 1 << 20, HiberLive, true},
		{page("HIBR"), 1 << 20, HiberLive, true},
		{page("RSTR"), 1 << 20, HiberLive, true},
		{page("wake"), 1 << 20, HiberResumed, false},
		{page(""), 1 << 20, HiberNone, false},
		{junk, 1 << 20, HiberUnknown, true},
		{page("hibr")[:100], 100, HiberShort, true},
	}
	for _, c := range cases {
		h := classifyHiberHeader(c.hdr, c.size)
		if h.State != c.state || h.Live() != c.live {
			t.Errorf("%q size %d: state %s live %v, want %s %v", c.hdr[:4], c.size, h.State, h.Live(), c.state, c.live)
		}
	}
}

func TestWriteGatePolicies(t *testing.T) {
	live := &JournalState{Clean: true, Hibernation: HiberState{Present: true, State: HiberLive, Signature: "HIBR"}}
	if _, err := live.WriteGate(UncleanRefuse, HibernatedRefuse); !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "--hibernated=discard") {
		t.Fatalf("live hibernation: %v", err)
	}
	if notes, err := live.WriteGate(UncleanRefuse, HibernatedDiscard); err != nil || !strings.Contains(strings.Join(notes, ""), "lost") {
		t.Fatalf("discard: %v %v", notes, err)
	}
	unclean := &JournalState{Clean: false, Reason: "journal version 2.0", Hibernation: HiberState{State: HiberAbsent}}
	if _, err := unclean.WriteGate(UncleanRefuse, HibernatedRefuse); !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "version 2.0") {
		t.Fatalf("unclean: %v", err)
	}
	if notes, err := unclean.WriteGate(UncleanReset, HibernatedRefuse); err != nil || !strings.Contains(strings.Join(notes, ""), "dirty flag set") {
		t.Fatalf("reset: %v %v", notes, err)
	}
	dirty := &JournalState{Clean: true, Dirty: true, Hibernation: HiberState{State: HiberAbsent}}
	if notes, err := dirty.WriteGate(UncleanRefuse, HibernatedRefuse); err != nil || !strings.Contains(strings.Join(notes, ""), "left set") {
		t.Fatalf("dirty: %v %v", notes, err)
	}
	if _, err := ParseUncleanPolicy("redo"); err == nil {
		t.Fatal("unknown policy accepted")
	}
	for _, s := range []string{"refuse", "reset", "replay"} {
		if p, err := ParseUncleanPolicy(s); err != nil || string(p) != s {
			t.Errorf("ParseUncleanPolicy(%q) = %q, %v", s, p, err)
		}
	}
}
