package hostid

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"io"
	"os"
	"os/exec"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"www.velocidex.com/golang/regparser"
)

// testHive is testdata/system-cs2.hive.gz: made by hivexregedit (an
// independent writer) from testdata/gen-reg.py; Select\Current = 2, so
// the computer name must come from ControlSet002 (ControlSet001 holds a
// decoy).
func testHive(t testing.TB) []byte {
	t.Helper()
	f, err := os.Open("testdata/system-cs2.hive.gz")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(z)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestReadSystemTestHive(t *testing.T) {
	s, err := ReadSystemBytes(testHive(t))
	if err != nil {
		t.Fatal(err)
	}
	if s.ControlSet != "ControlSet002" || s.ComputerName != "HOST-CS002" || s.Hostname != "host-cs002" || s.Domain != "corp.example" {
		t.Errorf("%+v", s)
	}
	tz := s.TimeZone
	if tz == nil || tz.Bias != -60 || tz.ActiveTimeBias != -120 || !tz.HasActive || tz.KeyName != "W. Europe Standard Time" || tz.RealTimeIsUniversal {
		t.Fatalf("time zone %+v", tz)
	}
	// A CEST machine: the hardware clock reads local time 06:09:00 when it
	// is 04:09:00 UTC.
	clock := time.Date(2024, 7, 19, 6, 9, 0, 0, time.UTC)
	if got := tz.HardwareClockToUTC(clock); !got.Equal(time.Date(2024, 7, 19, 4, 9, 0, 0, time.UTC)) {
		t.Errorf("clock correction: %v", got)
	}
	utc := *tz
	utc.RealTimeIsUniversal = true
	if got := utc.HardwareClockToUTC(clock); !got.Equal(clock) {
		t.Errorf("RealTimeIsUniversal: %v", got)
	}
	if s.HiveDirty {
		t.Errorf("hivex hive reported dirty")
	}

	h, err := OpenHive(bytes.NewReader(testHive(t)), int64(len(testHive(t))))
	if err != nil {
		t.Fatal(err)
	}
	k, err := h.Key(`controlset002\CONTROL\ünïcödé`)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := k.Value("wert"); err != nil || v.String() != "Grüße" {
		t.Errorf("UTF-16 key: %q %v", v.String(), err)
	}
	big, err := h.Key(`ControlSet002\Control\Big`)
	if err != nil {
		t.Fatal(err)
	}
	v, err := big.Value("Blob")
	if err != nil || len(v.Data) != 20000 || v.Type != RegBinary {
		t.Fatalf("big value: %d bytes, %v", len(v.Data), err)
	}
	for i, c := range v.Data {
		if c != byte(i*7%256) {
			t.Fatalf("big value byte %d = %d", i, c)
		}
	}
	svc, err := h.Key(`ControlSet002\Services`)
	if err != nil {
		t.Fatal(err)
	}
	subs, err := svc.Subkeys()
	if err != nil || len(subs) != 301 { // 300 SvcNNNN + Tcpip
		t.Fatalf("Services: %d subkeys, %v", len(subs), err)
	}
	if _, err := h.Key(`ControlSet002\Nope`); err == nil {
		t.Errorf("missing key found")
	}
}

// walk lists every key path and value (name=type:data) under k.
func walk(t *testing.T, k *Key, path string, out map[string]string) {
	vals, err := k.Values()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	for _, v := range vals {
		out[path+"|"+strings.ToLower(v.Name)] = string(rune(v.Type)) + string(v.Data)
	}
	out[path] = "key"
	subs, err := k.Subkeys()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	for _, s := range subs {
		walk(t, s, path+`\`+strings.ToLower(s.Name()), out)
	}
}

// regparserName: regparser returns a key name's raw bytes (Latin-1 for
// "compressed" names, as hivex writes them, or UTF-16LE) without decoding
// them; decode those. hivexget confirms the decoded name (TestHivexget).
func regparserName(n string) string {
	if strings.ContainsRune(n, 0) && len(n)%2 == 0 {
		u := make([]uint16, len(n)/2)
		for i := range u {
			u[i] = uint16(n[2*i]) | uint16(n[2*i+1])<<8
		}
		return string(utf16.Decode(u))
	}
	if !utf8.ValidString(n) {
		r := make([]rune, len(n))
		for i := 0; i < len(n); i++ {
			r[i] = rune(n[i])
		}
		return string(r)
	}
	return n
}

func walkRegparser(k *regparser.CM_KEY_NODE, path string, out map[string]string) {
	for _, v := range k.Values() {
		d := v.ValueData()
		out[path+"|"+strings.ToLower(v.ValueName())] = string(rune(v.Type())) + string(d.Data)
	}
	out[path] = "key"
	for _, s := range k.Subkeys() {
		walkRegparser(s, path+`\`+strings.ToLower(regparserName(s.Name())), out)
	}
}

// TestHiveMatchesRegparser: every key and value of the test hive and of a
// corpus SYSTEM hive read by our reader and by Velocidex regparser (an
// independent implementation) must agree.
func TestHiveMatchesRegparser(t *testing.T) {
	hives := map[string][]byte{"system-cs2": testHive(t)}
	if b := corpusSystemHive(t, "win10-plain-ntfs", true); b != nil {
		hives["win10-plain-ntfs"] = b
	}
	for name, b := range hives {
		h, err := OpenHive(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			t.Fatal(err)
		}
		root, err := h.Root()
		if err != nil {
			t.Fatal(err)
		}
		ours := map[string]string{}
		walk(t, root, "", ours)
		reg, err := regparser.NewRegistry(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		theirs := map[string]string{}
		walkRegparser(reg.OpenKey(""), "", theirs)
		if len(ours) < 10 || len(ours) != len(theirs) {
			t.Errorf("%s: %d entries, regparser %d", name, len(ours), len(theirs))
		}
		var diff []string
		for k, v := range ours {
			if theirs[k] != v {
				diff = append(diff, k)
			}
		}
		sort.Strings(diff)
		if len(diff) > 0 {
			t.Errorf("%s: %d entries differ from regparser, e.g. %v", name, len(diff), diff[:min(5, len(diff))])
		}
	}
}

// TestHivexget cross-checks a few values with hivexget (libhivex-bin)
// when it is installed.
func TestHivexget(t *testing.T) {
	if _, err := exec.LookPath("hivexget"); err != nil {
		t.Skip("hivexget not installed (apt libhivex-bin)")
	}
	b := testHive(t)
	p := t.TempDir() + "/SYSTEM"
	os.WriteFile(p, b, 0o644)
	h, _ := OpenHive(bytes.NewReader(b), int64(len(b)))
	for _, c := range [][2]string{
		{`ControlSet002\Control\ComputerName\ComputerName`, "ComputerName"},
		{`ControlSet001\Control\ComputerName\ComputerName`, "ComputerName"},
		{`ControlSet002\Control\TimeZoneInformation`, "TimeZoneKeyName"},
		{`ControlSet002\Services\Svc0123`, "Start"},
		{`Select`, "Current"},
		{`ControlSet002\Control\Ünïcödé`, "Wert"},
	} {
		out, err := exec.Command("hivexget", p, c[0], c[1]).Output()
		if err != nil {
			t.Fatalf("hivexget %v: %v", c, err)
		}
		k, err := h.Key(c[0])
		if err != nil {
			t.Fatal(err)
		}
		v, err := k.Value(c[1])
		if err != nil {
			t.Fatal(err)
		}
		got := v.String()
		if v.Type == RegDWORD {
			u, _ := v.Uint32()
			got = itoa(int64(int32(u)))
		}
		if want := strings.TrimSpace(string(out)); got != want {
			t.Errorf("%v: ours %q, hivexget %q", c, got, want)
		}
	}
}

func itoa(n int64) string {
	var b []byte
	neg := n < 0
	if neg {
		n = -n
	}
	for {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
		if n == 0 {
			break
		}
	}
	if neg {
		b = append([]byte{'-'}, b...)
	}
	return string(b)
}

func TestHiveErrors(t *testing.T) {
	b := testHive(t)
	if _, err := ReadSystemBytes(b[:100]); err == nil {
		t.Errorf("truncated base block accepted")
	}
	if _, err := ReadSystemBytes(append([]byte("regX"), b[4:]...)); err == nil || !strings.Contains(err.Error(), "regf") {
		t.Errorf("bad signature: %v", err)
	}
	// Dirty: sequence numbers differ.
	d := append([]byte(nil), b...)
	binary.LittleEndian.PutUint32(d[4:], binary.LittleEndian.Uint32(d[8:])+1)
	s, err := ReadSystemBytes(d)
	if err != nil || !s.HiveDirty || len(s.Notes) == 0 {
		t.Errorf("dirty hive: %+v %v", s, err)
	}
	// Cut the hive in half: a clear error, not a panic.
	if _, err := ReadSystemBytes(b[:len(b)/2]); err == nil {
		t.Logf("half hive still readable (keys in the first half)")
	}
	// Root cell offset pointing outside the hive.
	r := append([]byte(nil), b...)
	binary.LittleEndian.PutUint32(r[36:], 0x7ffffff0)
	if _, err := ReadSystemBytes(r); err == nil || !strings.Contains(err.Error(), "outside the hive") {
		t.Errorf("bad root: %v", err)
	}
}

// FuzzReadSystem: random hives never panic.
func FuzzReadSystem(f *testing.F) {
	// Seeds stay small: Go's fuzzer slows to a crawl on inputs of 64 KiB.
	// w10-plain-SYSTEM.hive is the corpus win10-plain-ntfs SYSTEM hive,
	// extracted with ntfscat.
	seed, err := os.ReadFile("testdata/w10-plain-SYSTEM.hive")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add(testHive(f)[:16<<10])
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ReadSystemBytes(data)
		if err == nil && s.ComputerName == "" {
			t.Fatal("no error and no computer name")
		}
		h, err := OpenHive(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		if root, err := h.Root(); err == nil {
			subs, _ := root.Subkeys()
			for _, s := range subs {
				s.Values()
				s.Subkeys()
			}
		}
	})
}
