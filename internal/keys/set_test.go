package keys

import (
	"testing"
)

func TestSetMatching(t *testing.T) {
	var all []Entry
	for _, f := range []string{"testdata/generic.csv", "testdata/ad-csvde.csv", "testdata/serial-keylist.csv", "testdata/crowdstrike-BitLockerKeys.csv"} {
		es, err := LoadFile(f, LoadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, es...)
	}
	all = append(all, all[0]) // a duplicate from a second --keys file
	s := NewSet(all)
	if s.Len() != len(all)-1 {
		t.Errorf("Len %d, want %d (duplicate dropped)", s.Len(), len(all)-1)
	}
	if got := s.ForProtector("{3c116b76-c67b-484e-b439-ce2ed68b561e}"); len(got) != 1 || got[0].RecoveryPassword != corpusPW {
		t.Errorf("ForProtector(corpus): %v", got)
	}
	if got := s.ForProtector("not a guid"); got != nil {
		t.Errorf("ForProtector(junk): %v", got)
	}
	if got := s.ForComputer("pc-acct-01"); len(got) != 2 {
		t.Errorf("ForComputer(pc-acct-01): %v", got)
	}
	for _, name := range []string{"PC-ACCT-01.corp.example.com", "PC-ACCT-01$", "PC-ACCT-01 C: 3/11/2024"} {
		if got := s.ForComputer(name); len(got) != 2 {
			t.Errorf("ForComputer(%q): %v", name, got)
		}
	}
	// The corpus volumes' BitLocker description names their computer.
	if got := s.ForComputer("DESKTOP-QNI1MMF TestVolume 10/8/2021"); len(got) != 1 || got[0].KeyID != corpusID {
		t.Errorf("ForComputer(description): %v", got)
	}
	if got := s.ForComputer("UNKNOWN-PC C: 1/1/2024"); len(got) != 0 {
		t.Errorf("ForComputer(unknown): %v", got)
	}
	if got := s.ForSerial(" 5cg1234xyz "); len(got) != 1 || got[0].RecoveryPassword != fakePW(26) {
		t.Errorf("ForSerial: %v", got)
	}
}

func TestCandidatesOrderAndBound(t *testing.T) {
	var es []Entry
	// 20 keys backed up for one computer, IDs fake 100..119.
	for k := 100; k < 120; k++ {
		es = append(es, Entry{KeyID: fakeID(k), RecoveryPassword: fakePW(k), ComputerName: "BIGPC"})
	}
	// Keys without IDs for the computer and for a serial.
	es = append(es, Entry{RecoveryPassword: fakePW(130), ComputerName: "bigpc"})
	es = append(es, Entry{RecoveryPassword: fakePW(131), Serial: "SER-1"})
	// The protector's own key, listed under another name.
	es = append(es, Entry{KeyID: fakeID(140), RecoveryPassword: fakePW(140), ComputerName: "OTHER"})
	s := NewSet(es)

	got := s.Candidates([]string{"{" + fakeID(140) + "}", fakeID(105)}, "BIGPC C: 7/19/2024", "ser-1")
	if len(got) == 0 || got[0].KeyID != fakeID(140) || got[1].KeyID != fakeID(105) {
		t.Fatalf("protector matches not first: %v", got)
	}
	// fakeID(105) must not come twice; BIGPC's other IDs are not this
	// volume's protectors and are skipped; then the ID-less BIGPC key and
	// the serial key.
	if len(got) != 4 || got[2].RecoveryPassword != fakePW(130) || got[3].RecoveryPassword != fakePW(131) {
		t.Errorf("candidates: %v", got)
	}
	// Unknown protectors (nothing to filter by): the bound applies.
	got = s.Candidates(nil, "BIGPC C: 7/19/2024", "")
	if len(got) != MaxCandidates {
		t.Errorf("%d candidates, want the bound %d", len(got), MaxCandidates)
	}
	if got := s.Candidates([]string{fakeID(999)}, "", ""); len(got) != 0 {
		t.Errorf("no match: %v", got)
	}
}
