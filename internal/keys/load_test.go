package keys

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// fakePW is the pattern the sample generator used for fake key k: first
// group 000000, then group i = 11*(k*1000 + i*101). Every group is a
// multiple of 11 below 720896, so the checksum passes.
func fakePW(k int) string {
	g := []string{"000000"}
	for i := 1; i < 8; i++ {
		g = append(g, fmt.Sprintf("%06d", 11*(k*1000+i*101)))
	}
	return strings.Join(g, "-")
}

func fakeID(k int) string { return fmt.Sprintf("FA4E%04X-0000-4000-8000-%012X", k, k) }

const (
	corpusID = "3C116B76-C67B-484E-B439-CE2ED68B561E"
	corpusPW = "284867-596541-514998-422114-660297-261613-215424-199408"
)

type want struct {
	k        int // fake key number; 0 = the corpus pair
	computer string
	serial   string
	line     int
}

func TestLoadSamples(t *testing.T) {
	cases := []struct {
		file   string
		format Format
		want   []want
	}{
		{"ad-csvde.csv", FormatADCSV, []want{{1, "PC-ACCT-01", "", 2}, {2, "PC-ACCT-01", "", 3}, {3, "LT-SALES-17", "", 4}}},
		{"ad-export-csv.csv", FormatADCSV, []want{{4, "SRV-FILE-02", "", 3}, {5, "DESKTOP-7H2K9QX", "", 4}}},
		{"ad-export-utf16.csv", FormatADCSV, []want{{6, "PC-MÜNCHEN-03", "", 2}, {7, "PC-KÖLN-11", "", 3}}},
		{"ad-ldifde.ldf", FormatADLDIF, []want{{8, "PC-LAB-04", "", 1}, {9, "PC-LAB-05", "", 15}}},
		{"ad-get-adobject.txt", FormatADList, []want{{10, "PC-HR-01", "", 2}, {11, "PC-HR-02", "", 10}}},
		{"graph-recoverykeys.json", FormatGraphJSON, []want{{12, "", "", 5}, {13, "", "", 12}}},
		{"entra-keys.csv", FormatEntraCSV, []want{{14, "LT-MKT-22", "", 2}, {15, "LT-MKT-23", "", 3}}},
		{"mbam-keys.tsv", FormatMBAMCSV, []want{{16, "WKS-0416", "", 2}, {17, "WKS-0417", "", 3}}},
		{"crowdstrike-BitLockerKeys.csv", FormatCrowdStrikeCSV, []want{{20, "POS-STORE-0001", "", 2}, {21, "KIOSK-AIRPORT-7", "", 3}}},
		{"crowdstrike-keyonly.csv", FormatCrowdStrikeCSV, []want{{22, "", "", 2}, {23, "", "", 3}}},
		{"BitLocker Recovery Key FA4E0029-0000-4000-8000-000000000029.TXT", FormatText, []want{{41, "", "", 13}}},
		{"manage-bde-protectors.txt", FormatText, []want{{42, "", "", 16}, {43, "", "", 26}}},
		{"get-bitlockervolume-keyprotector.csv", FormatCSV, []want{{44, "", "", 4}}},
		{"generic.csv", FormatCSV, []want{{0, "DESKTOP-QNI1MMF", "VMW-CORPUS-0001", 2}, {24, "pc-generic-24", "SN-FAKE-24", 3}, {25, "PC, with comma", "", 4}}},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			path := filepath.Join("testdata", c.file)
			res, err := ParseFile(path, LoadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Problems) > 0 {
				t.Errorf("problems: %v", res.Problems)
			}
			if res.Format != c.format {
				t.Errorf("format %q, want %q", res.Format, c.format)
			}
			if len(res.Entries) != len(c.want) {
				t.Fatalf("%d entries, want %d: %v", len(res.Entries), len(c.want), res.Entries)
			}
			for i, w := range c.want {
				e := res.Entries[i]
				id, pw := fakeID(w.k), fakePW(w.k)
				if w.k == 0 {
					id, pw = corpusID, corpusPW
				}
				if e.KeyID != id || e.RecoveryPassword != pw {
					t.Errorf("entry %d: key %s, want %s; password matches: %v", i, e.KeyID, id, e.RecoveryPassword == pw)
				}
				if e.ComputerName != w.computer || e.Serial != w.serial || e.Line != w.line {
					t.Errorf("entry %d: computer %q serial %q line %d, want %q %q %d", i, e.ComputerName, e.Serial, e.Line, w.computer, w.serial, w.line)
				}
				if e.Source != path {
					t.Errorf("entry %d: source %q", i, e.Source)
				}
			}
		})
	}
}

func TestLoadMBAMExportAndSerials(t *testing.T) {
	es, err := LoadFile("testdata/mbam-export.csv", LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 2 || es[0].KeyID != fakeID(18) || es[1].RecoveryPassword != fakePW(19) || es[0].ComputerName != "" {
		t.Errorf("mbam export: %v", es)
	}
	es, err = LoadFile("testdata/serial-keylist.csv", LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 2 || es[0].Serial != "5CG1234XYZ" || es[0].KeyID != "" || es[1].RecoveryPassword != fakePW(27) {
		t.Errorf("serial list: %v", es)
	}
}

func TestProblemsFile(t *testing.T) {
	res, err := ParseFile("testdata/problems.csv", LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Lines 2 and 5 are good (5 duplicates 2: duplicates are keys check's
	// business, not the parser's).
	if len(res.Entries) != 2 || res.Entries[0].Line != 2 || res.Entries[1].Line != 5 {
		t.Errorf("entries: %v", res.Entries)
	}
	wantMsgs := map[int]string{
		3: "recovery password group 3 fails its checksum",
		4: "no key ID, computer name or serial",
		6: "recovery password has 7 groups",
		7: "column KeyID: key ID \"NOT-A-GUID\" is not a GUID",
	}
	got := map[int]string{}
	for _, p := range res.Problems {
		got[p.Line] = p.Error()
		if strings.Contains(p.Error(), "000000-") || strings.Contains(p.Error(), fakePW(29)[7:20]) {
			t.Errorf("problem echoes a password: %s", p.Error())
		}
	}
	if len(got) != len(wantMsgs) {
		t.Errorf("problems %v", res.Problems)
	}
	for line, msg := range wantMsgs {
		if !strings.Contains(got[line], msg) || !strings.Contains(got[line], fmt.Sprintf("problems.csv: line %d:", line)) {
			t.Errorf("line %d: got %q, want it to contain %q", line, got[line], msg)
		}
	}
	// Strict mode refuses the file, default mode warns and goes on.
	if _, err := LoadFile("testdata/problems.csv", LoadOptions{Strict: true}); err == nil {
		t.Error("strict load of problems.csv succeeded")
	}
	var warned int
	es, err := LoadFile("testdata/problems.csv", LoadOptions{Warn: func(Problem) { warned++ }})
	if err != nil || len(es) != 2 || warned != 4 {
		t.Errorf("lenient load: %d entries, %d warnings, err %v", len(es), warned, err)
	}
}

func TestRecoveryPasswordChecksum(t *testing.T) {
	good := []string{corpusPW, fakePW(1), "'" + corpusPW, `="` + corpusPW + `"`, strings.ReplaceAll(corpusPW, "-", ""), strings.ReplaceAll(corpusPW, "-", " "), "  " + corpusPW + "\t"}
	for _, s := range good {
		n, err := NormalizeRecoveryPassword(s)
		if err != nil || n != corpusPW && n != fakePW(1) {
			t.Errorf("NormalizeRecoveryPassword(good #%d) = %q, %v", len(s), n, err)
		}
	}
	bad := map[string]string{
		"": "is empty",
		"284867-596541-514998-422114-660297-261613-215424":        "7 groups",
		"284867-596541-514998-422114-660297-261613-215424-199409": "group 8 fails its checksum",
		"284867-596541-514998-422114-660297-261613-215424-720896": "group 8 fails its checksum", // 11*65536: too big
		"284867-596541-5149a8-422114-660297-261613-215424-199408": "group 3 contains a character",
		"284867-596541-51499-422114-660297-261613-215424-1994088": "group 3 has 5 characters",
		"28486759654151499842211466029726161321542419940":         "has 47 characters",
	}
	for in, want := range bad {
		_, err := NormalizeRecoveryPassword(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("NormalizeRecoveryPassword(case %q): err %v", want, err)
			continue
		}
		for _, g := range strings.Split(in, "-") {
			if len(g) >= 5 && g != "720896" && strings.Contains(err.Error(), g) {
				t.Errorf("error %q echoes digits", err)
			}
		}
	}
	// 720885 = 11*65535 is the largest valid group.
	if _, err := NormalizeRecoveryPassword("720885-000000-000000-000000-000000-000000-000000-000000"); err != nil {
		t.Errorf("largest group rejected: %v", err)
	}
}

func TestNormalizeKeyID(t *testing.T) {
	for _, in := range []string{"{3c116b76-c67b-484e-b439-ce2ed68b561e}", "3C116B76-C67B-484E-B439-CE2ED68B561E", " 3c116b76c67b484eb439ce2ed68b561e ", "(3C116B76-C67B-484E-B439-CE2ED68B561E)"} {
		if got, err := NormalizeKeyID(in); err != nil || got != corpusID {
			t.Errorf("NormalizeKeyID(%q) = %q, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "{}", "3C116B76-C67B-484E-B439-CE2ED68B561", "3C116B76_C67B_484E_B439_CE2ED68B561E", "ZC116B76-C67B-484E-B439-CE2ED68B561E", corpusPW} {
		if got, err := NormalizeKeyID(in); err == nil {
			t.Errorf("NormalizeKeyID(%q) = %q, want error", in, got)
		} else if strings.Contains(err.Error(), "284867") {
			t.Errorf("error echoes a password: %v", err)
		}
	}
}

func TestEncodingsAndDelimiters(t *testing.T) {
	body := "KeyID;RecoveryPassword;Hostname\n{" + fakeID(40) + "};" + fakePW(40) + ";PC40\n"
	utf16le := []byte{0xFF, 0xFE}
	for _, r := range body {
		utf16le = append(utf16le, byte(r), 0)
	}
	utf16be := []byte{0xFE, 0xFF}
	for _, r := range body {
		utf16be = append(utf16be, 0, byte(r))
	}
	variants := map[string][]byte{
		"utf8":          []byte(body),
		"utf8bom":       append([]byte{0xEF, 0xBB, 0xBF}, body...),
		"utf16le":       utf16le,
		"utf16be":       utf16be,
		"utf16le-nobom": utf16le[2:],
		"crlf":          []byte(strings.ReplaceAll(body, "\n", "\r\n")),
		"tab":           []byte(strings.ReplaceAll(body, ";", "\t")),
		"comma-quoted":  []byte(`"KeyID","RecoveryPassword","Hostname"` + "\r\n" + `"` + fakeID(40) + `","` + fakePW(40) + `","PC40"` + "\r\n"),
		"excel-sep":     []byte("sep=;\n" + body),
		"ps5-type":      []byte("#TYPE System.Management.Automation.PSCustomObject\n" + body),
	}
	for name, data := range variants {
		res, err := Parse(name, data, LoadOptions{})
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if len(res.Entries) != 1 || res.Entries[0].KeyID != fakeID(40) || res.Entries[0].RecoveryPassword != fakePW(40) || res.Entries[0].ComputerName != "PC40" {
			t.Errorf("%s: %v problems %v", name, res.Entries, res.Problems)
		}
	}
}

func TestUnknownFormats(t *testing.T) {
	for name, data := range map[string]string{
		"empty":    "",
		"blank":    "\n\n  \n",
		"noheader": "hello,world\n1,2\n",
		"binary":   "\x00\x01\x02\x03MZ\x00\x00",
		"badjson":  `{"value":[{"id":`,
	} {
		_, err := Parse(name, []byte(data), LoadOptions{})
		if err == nil {
			t.Errorf("%s: no error", name)
		} else if !strings.HasPrefix(err.Error(), name+": ") {
			t.Errorf("%s: error does not name the file: %v", name, err)
		}
	}
	if _, err := LoadFile("testdata/does-not-exist.csv", LoadOptions{}); err == nil {
		t.Error("missing file: no error")
	}
}

func TestEntryNeverPrintsPassword(t *testing.T) {
	e := Entry{KeyID: corpusID, RecoveryPassword: corpusPW, ComputerName: "PC"}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
		if s := fmt.Sprintf(verb, e); strings.Contains(s, "284867") {
			t.Errorf("%s prints the password: %s", verb, s)
		}
	}
	if s := fmt.Sprintf("%v", []Entry{e}); strings.Contains(s, "284867") {
		t.Errorf("slice prints the password: %s", s)
	}
	set := NewSet([]Entry{e})
	for _, verb := range []string{"%v", "%+v", "%#v"} {
		if s := fmt.Sprintf(verb, set); strings.Contains(s, "284867") {
			t.Errorf("Set %s prints the password: %s", verb, s)
		}
		if s := fmt.Sprintf(verb, struct{ S *Set }{set}); strings.Contains(s, "284867") {
			t.Errorf("struct with Set %s prints the password: %s", verb, s)
		}
	}
}

func TestTextPairing(t *testing.T) {
	// Header-less "GUID,password" lines pair on the line; a password with no
	// ID before it (and none in the file name) is a problem.
	text := fakeID(50) + "," + fakePW(50) + "\n\n" + fakePW(51) + "\n"
	res, err := Parse("pairs.txt", []byte(text), LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Entries) != 1 || res.Entries[0].KeyID != fakeID(50) || len(res.Problems) != 1 || res.Problems[0].Line != 3 {
		t.Errorf("entries %v problems %v", res.Entries, res.Problems)
	}
	// One ID names one password: the second password does not reuse it.
	text = "ID: {" + fakeID(52) + "}\nPassword:\n" + fakePW(52) + "\n" + fakePW(53) + "\n"
	res, _ = Parse("x.txt", []byte(text), LoadOptions{})
	if len(res.Entries) != 1 || len(res.Problems) != 1 {
		t.Errorf("reuse: %v %v", res.Entries, res.Problems)
	}
	// The ID may come from the file name, as Windows names the backup file.
	res, _ = Parse("BitLocker Recovery Key "+fakeID(54)+".TXT", []byte("Recovery Key:\n\n"+fakePW(54)+"\n"), LoadOptions{})
	if len(res.Entries) != 1 || res.Entries[0].KeyID != fakeID(54) {
		t.Errorf("file name ID: %v %v", res.Entries, res.Problems)
	}
}

// The binary forms of msFVE-RecoveryGuid, with no object name to fall back
// on. Expected bytes from Python's uuid.UUID(...).bytes_le (an independent
// encoder): 766b113c7bc64e48b439ce2ed68b561e = dmsRPHvGTki0Oc4u1otWHg==.
func TestBinaryRecoveryGuid(t *testing.T) {
	csvde := "msFVE-RecoveryGuid,msFVE-RecoveryPassword,cn\nX'766b113c7bc64e48b439ce2ed68b561e'," + corpusPW + ",PC9\n"
	ldif := "dn: CN=x,DC=example\nmsFVE-RecoveryGuid:: dmsRPHvGTki0Oc4u1otWHg==\nmsFVE-RecoveryPassword: " + corpusPW + "\ncn: PC9\n"
	for name, data := range map[string]string{"csvde.csv": csvde, "x.ldf": ldif} {
		res, err := Parse(name, []byte(data), LoadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Entries) != 1 || res.Entries[0].KeyID != corpusID || res.Entries[0].ComputerName != "PC9" {
			t.Errorf("%s: %v %v", name, res.Entries, res.Problems)
		}
	}
	bad := "msFVE-RecoveryGuid,msFVE-RecoveryPassword\nX'766b113c'," + corpusPW + "\n"
	res, _ := Parse("bad.csv", []byte(bad), LoadOptions{})
	if len(res.Problems) != 1 || !strings.Contains(res.Problems[0].Msg, "binary GUID has 4 bytes") {
		t.Errorf("short binary GUID: %v", res.Problems)
	}
}

// TestRecoveryPasswordUnicodeDashes: the one parser (bitlocker's) accepts
// the Unicode dashes word processors substitute, in key exports too, and
// keeps the spreadsheet markers keys strips first.
func TestRecoveryPasswordUnicodeDashes(t *testing.T) {
	for _, s := range []string{
		strings.ReplaceAll(corpusPW, "-", "\u2013"),
		"'" + strings.ReplaceAll(corpusPW, "-", "\u2011"),
		`="` + strings.ReplaceAll(corpusPW, "-", " \u2212 ") + `"`,
	} {
		if n, err := NormalizeRecoveryPassword(s); err != nil || n != corpusPW {
			t.Errorf("NormalizeRecoveryPassword(%q) = %q, %v", s, n, err)
		}
	}
}
