package redact

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"unicode/utf16"
)

const rp = "284867-596541-514998-422114-660297-261613-215424-199408"

var rpDigits = strings.ReplaceAll(rp, "-", "")

// rpForms are the ways the key parsers accept a recovery password.
func rpForms() []string {
	g := strings.Split(rp, "-")
	return []string{
		rp,
		rpDigits,
		strings.Join(g, " "),
		strings.Join(g, "\t"),
		strings.Join(g, " - "),
		strings.Join(g, "\u2013"), // en dash
		strings.Join(g, "\u2212"), // minus sign
		strings.Join(g, "\u00a0"), // no-break space
		strings.Join(g, "\n"),
		strings.Join(g[:4], "-") + "-\u2010" + strings.Join(g[4:], "\u2015"),
	}
}

func TestShapes(t *testing.T) {
	r := New()
	for _, f := range rpForms() {
		for _, s := range []string{f, "x" + f + "y", "open /tmp/" + f + ".csv: no such file", "1" + f + "9"} {
			got := r.String(s)
			if strings.Contains(got, "284867") || strings.Contains(got, "199408") || !strings.Contains(got, Marker) {
				t.Errorf("%q -> %q", s, got)
			}
		}
		// As JSON and %q print it.
		j, _ := json.Marshal("technician " + f)
		if got := r.Bytes(j); bytes.Contains(got, []byte("596541")) || !json.Valid(got) {
			t.Errorf("JSON %s -> %s", j, got)
		}
		q := fmt.Sprintf("%q", f)
		if got := r.String(q); strings.Contains(got, "596541") {
			t.Errorf("%%q %s -> %s", q, got)
		}
		// UTF-16LE, replaced by the UTF-16LE marker.
		w := string(utf16le("pw=" + f + ";"))
		if got := r.String(w); strings.Contains(got, string(utf16le("596541"))) || !strings.Contains(got, string(utf16le(Marker))) {
			t.Errorf("UTF-16LE %q -> %q", w, got)
		}
	}
}

func TestNotShapes(t *testing.T) {
	r := New()
	for _, s := range []string{
		"",
		"40960 bytes, last written 2024-07-19T04:09:27Z, sha256 909366a4",
		"284867-596541-514998-422114-660297-261613-215424",       // 7 groups
		"284867-596541-514998-422114-660297-261613-21542-199408", // a 5-digit group
		"123456 at offset 0x00089d000 sector 17640 x8",
		"284867--------596541-514998-422114-660297-261613-215424-199408", // too many separators
		strings.Repeat("1", 47),
		"{3C116B76-C67B-484E-B439-CE2ED68B561E}",
	} {
		if got := r.String(s); got != s {
			t.Errorf("%q changed to %q", s, got)
		}
	}
	b := []byte("nothing to hide")
	if got := r.Bytes(b); &got[0] != &b[0] {
		t.Error("Bytes copied a clean input")
	}
}

func TestRegister(t *testing.T) {
	r := New()
	const pw = `S3cret!pw<&>"\`
	release := r.Register(pw)
	j, _ := json.Marshal(map[string]string{"technician": pw, "error": "open " + pw + ": denied"})
	var c bytes.Buffer
	cw := csv.NewWriter(&c)
	cw.Write([]string{"a", pw, "b"})
	cw.Flush()
	for _, s := range []string{
		pw, "--rules " + pw, string(j), fmt.Sprintf("open %q", pw), fmt.Sprintf("%+q", pw), c.String(),
		" " + pw + " ", string(utf16le("x" + pw + "x")),
	} {
		got := r.String(s)
		if strings.Contains(got, "S3cret") || strings.Contains(got, string(utf16le("S3cret"))) {
			t.Errorf("%q -> %q", s, got)
		}
	}
	if got := r.Bytes(j); !json.Valid(got) {
		t.Errorf("JSON no longer valid: %s", got)
	}
	// Registered twice, released once: still redacted.
	release2 := r.Register(pw)
	release()
	release() // a second call of the same release does nothing
	if r.String(pw) != Marker {
		t.Error("released too early")
	}
	release2()
	if r.String(pw) != pw {
		t.Error("not released")
	}
	// Too short: ignored.
	r.Register("abc")
	if r.String("abc abc") != "abc abc" {
		t.Error("a 3-character secret was registered")
	}
	// A typed recovery password that is not well formed (a digit missing)
	// is redacted once registered.
	bad := rp[:len(rp)-1]
	r.Register(bad)
	if got := r.String("wrong: " + bad); strings.Contains(got, "19940") {
		t.Errorf("registered malformed password: %q", got)
	}
}

// TestWriterSplits writes a text holding secrets in every possible pair of
// pieces and byte by byte: the output never holds one, and equals the
// redaction of the whole.
func TestWriterSplits(t *testing.T) {
	r := New()
	r.Register("S3cret!pw")
	text := "tech " + rp + " and S3cret!pw, " + strings.Join(strings.Split(rp, "-"), "\u2013") + " took 154" +
		string(utf16le(" "+rpDigits+" ")) + " end 12"
	want := r.String(text)
	if strings.Contains(want, "284867") || strings.Contains(want, "S3cret") || strings.Count(want, Marker) != 3 || !strings.Contains(want, string(utf16le(Marker))) {
		t.Fatalf("whole text redacted to %q", want)
	}
	check := func(name string, pieces [][]byte) {
		t.Helper()
		var out bytes.Buffer
		w := r.NewWriter(&out)
		for _, p := range pieces {
			if n, err := w.Write(p); n != len(p) || err != nil {
				t.Fatalf("Write: %d, %v", n, err)
			}
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		if out.String() != want {
			t.Fatalf("%s: got %q, want %q", name, out.String(), want)
		}
	}
	b := []byte(text)
	for i := 0; i <= len(b); i++ {
		check(fmt.Sprintf("split at %d", i), [][]byte{b[:i], b[i:]})
	}
	var bytewise [][]byte
	for i := range b {
		bytewise = append(bytewise, b[i:i+1])
	}
	check("byte by byte", bytewise)
}

// TestWriterNoHold: ordinary output (lines, prompts) goes through at once.
func TestWriterNoHold(t *testing.T) {
	r := New()
	r.Register("S3cret!pw")
	for _, s := range []string{"Passphrase: ", "line\n", "Continue? [y/N] ", "\r 45% (12 of 64 MiB)", "group 8 "} {
		var out bytes.Buffer
		w := r.NewWriter(&out)
		w.Write([]byte(s))
		if out.String() != s {
			t.Errorf("%q held back: wrote %q", s, out.String())
		}
	}
	var out bytes.Buffer
	w := r.NewWriter(&out)
	w.Write([]byte("284867-"))
	if out.Len() != 0 {
		t.Errorf("a possible start of a password was written: %q", out.String())
	}
	w.Flush()
	if out.String() != "284867-" {
		t.Errorf("Flush wrote %q", out.String())
	}
}

func TestUnwrap(t *testing.T) {
	var b bytes.Buffer
	w := NewWriter(NewWriter(&b))
	if Unwrap(w) != &b {
		t.Error("Unwrap did not find the buffer")
	}
	if NewWriter(w) != w {
		t.Error("NewWriter wrapped a Writer twice")
	}
}

func TestUTF16Helper(t *testing.T) {
	u := utf16.Decode([]uint16{'a', 0x2013})
	if got := utf16le(string(u)); !bytes.Equal(got, []byte{'a', 0, 0x13, 0x20}) {
		t.Errorf("utf16le: % x", got)
	}
}

func BenchmarkWriterText(b *testing.B) {
	r := New()
	r.Register("S3cret!pw")
	line := []byte("disk.img partition 3: offset 52428800, 62.9 MiB, BitLocker \"Basic data partition\" 2024-07-19T04:09:27Z\n")
	w := r.NewWriter(&bytes.Buffer{})
	b.SetBytes(int64(len(line)))
	for i := 0; i < b.N; i++ {
		w.Write(line)
	}
}

// TestConcurrent: Writers and Register may be used from many goroutines
// (fix --parallel writes from one per target); run with -race.
func TestConcurrent(t *testing.T) {
	r := New()
	var out bytes.Buffer
	w := r.NewWriter(&out)
	done := make(chan bool)
	for g := 0; g < 4; g++ {
		go func(g int) {
			for i := 0; i < 200; i++ {
				rel := r.Register(fmt.Sprintf("secret-%d-%d", g, i%7))
				fmt.Fprintf(w, "line %d of %d: %s secret-%d-%d\n", i, g, rp, g, i%7)
				rel()
			}
			done <- true
		}(g)
	}
	for g := 0; g < 4; g++ {
		<-done
	}
	w.Flush()
	if strings.Contains(out.String(), "284867") || strings.Count(out.String(), "\n") != 800 {
		t.Errorf("output: %d lines, password found: %v", strings.Count(out.String(), "\n"), strings.Contains(out.String(), "284867"))
	}
}
