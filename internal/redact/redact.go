// Package redact is the one place where unbrick keeps secrets out of what
// it prints, logs or writes: standard output and error (wrapped once in
// cmd/unbrick's run), the fleet log (internal/fleetlog's scrub) and the
// stick's screen transcript (logs/boot-TIME.log).
//
// A Redactor replaces with Marker
//
//   - anything shaped like a BitLocker recovery password: 48 digits in 8
//     groups of 6, the groups separated by nothing or by up to 4 separators
//     each: '-', the Unicode dashes U+2010..U+2015 and U+2212 that word
//     processors substitute, white space (as the key parsers accept it), or
//     the escapes JSON and Go's %q turn white space into (\t, \n, \r, \v, \f,
//     \uXXXX); also inside longer text (a path, a file name);
//   - every secret registered at run time (user passwords, recovery
//     passwords as typed, sealed-bundle passphrases, FVEKs), also as JSON,
//     Go-quoted and CSV text escape it;
//
// each in UTF-8 and in UTF-16LE (where the replacement is UTF-16LE too).
//
// A Writer applies a Redactor to a stream. A secret split across two Write
// calls is still found: the Writer holds back a tail that could be the
// start of a match until the next Write decides it, or Flush.
package redact

import (
	"bytes"
	"encoding/json"
	"io"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// Marker replaces every secret.
const Marker = "[redacted]"

// MinSecretLen is the shortest secret (in characters, after trimming white
// space) that Register accepts: a shorter one would turn ordinary words
// and numbers of every message into Marker. BitLocker passwords and sealed
// bundle passphrases have at least 8 characters anyway.
const MinSecretLen = 4

// maxSecretLen bounds a registered secret (bytes): the Writer may hold
// back that much.
const maxSecretLen = 4096

var (
	marker8  = []byte(Marker)
	marker16 = utf16le(Marker)
)

// Redactor finds recovery-password-shaped text and registered secrets. It
// is safe for concurrent use. The zero value is not usable: use New.
type Redactor struct {
	mu      sync.RWMutex
	counts  map[string]int // registered secret -> registrations not yet released
	needles []needle       // every encoding of every registered secret, longest first
	first   [256]bool      // bytes a match can start with
}

type needle struct {
	b    []byte
	wide bool // UTF-16LE: replaced by the UTF-16LE marker
}

// New returns a Redactor with no registered secrets (it still redacts
// recovery-password shapes).
func New() *Redactor {
	r := &Redactor{counts: map[string]int{}}
	r.rebuild()
	return r
}

// Register adds secret to what r redacts, until release is called (each
// Register needs its own release; a secret registered twice stays until
// both are released). Secrets shorter than MinSecretLen characters are
// ignored. Registering is cheap; do it as soon as a secret is read.
func (r *Redactor) Register(secret string) (release func()) {
	if utf8.RuneCountInString(strings.TrimSpace(secret)) < MinSecretLen || len(secret) > maxSecretLen {
		return func() {}
	}
	r.mu.Lock()
	r.counts[secret]++
	if r.counts[secret] == 1 {
		r.rebuild()
	}
	r.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			r.mu.Lock()
			defer r.mu.Unlock()
			if r.counts[secret]--; r.counts[secret] <= 0 {
				delete(r.counts, secret)
				r.rebuild()
			}
		})
	}
}

// rebuild recomputes needles and first; r.mu is held for writing (or r is
// not shared yet).
func (r *Redactor) rebuild() {
	seen := map[string]bool{}
	var ns []needle
	add := func(s string, wide bool) {
		if s == "" || seen[s] {
			return
		}
		seen[s] = true
		ns = append(ns, needle{b: []byte(s), wide: wide})
	}
	for s := range r.counts {
		for _, v := range variants(s) {
			add(v, false)
			add(string(utf16le(v)), true)
		}
	}
	// Longest first, so that a secret that contains another is replaced
	// whole.
	sortNeedles(ns)
	var first [256]bool
	for c := '0'; c <= '9'; c++ {
		first[c] = true
	}
	for _, n := range ns {
		first[n.b[0]] = true
	}
	r.needles, r.first = ns, first
}

func sortNeedles(ns []needle) {
	for i := 1; i < len(ns); i++ {
		for j := i; j > 0 && len(ns[j].b) > len(ns[j-1].b); j-- {
			ns[j], ns[j-1] = ns[j-1], ns[j]
		}
	}
}

// variants are the forms in which s can reach an output: as given,
// trimmed (the key parsers trim), JSON-escaped (with and without HTML
// escaping), Go-quoted (%q, %+q) and CSV-quoted.
func variants(s string) []string {
	var out []string
	for _, v := range []string{s, strings.TrimSpace(s)} {
		out = append(out, v, jsonInner(v, true), jsonInner(v, false),
			unquote(strconv.Quote(v)), unquote(strconv.QuoteToASCII(v)), strings.ReplaceAll(v, `"`, `""`))
	}
	return out
}

func jsonInner(s string, html bool) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(html)
	if enc.Encode(s) != nil {
		return ""
	}
	return unquote(strings.TrimSuffix(b.String(), "\n"))
}

func unquote(q string) string {
	if len(q) >= 2 {
		return q[1 : len(q)-1]
	}
	return q
}

func utf16le(s string) []byte {
	u := utf16.Encode([]rune(s))
	b := make([]byte, 2*len(u))
	for i, c := range u {
		b[2*i], b[2*i+1] = byte(c), byte(c>>8)
	}
	return b
}

// String returns s with every secret replaced by Marker.
func (r *Redactor) String(s string) string {
	out, _ := r.scan([]byte(s), true)
	return string(out)
}

// Bytes returns b with every secret replaced by Marker (UTF-16LE matches by
// the UTF-16LE Marker). It returns b itself when there is nothing to
// replace.
func (r *Redactor) Bytes(b []byte) []byte {
	out, _ := r.scan(b, true)
	return out
}

// Contains reports whether s holds anything r would redact.
func (r *Redactor) Contains(s string) bool {
	out, _ := r.scan([]byte(s), true)
	return len(out) != len(s) || string(out) != s
}

// scan redacts b. Unless final, it stops at the first position where a
// match could begin but needs more input to decide, and returns that
// position as hold (the caller keeps b[hold:] for the next call); else
// hold is len(b). out is b itself when nothing was replaced and nothing is
// held back.
func (r *Redactor) scan(b []byte, final bool) (out []byte, hold int) {
	r.mu.RLock()
	needles, first := r.needles, &r.first
	defer r.mu.RUnlock()
	last := 0 // b[last:i] is not yet in out
	var o []byte
	for i := 0; i < len(b); i++ {
		if !first[b[i]] {
			continue
		}
		end, wide, more := matchAt(b, i, needles)
		if more && !final {
			if o == nil {
				return b[:i], i
			}
			return append(o, b[last:i]...), i
		}
		if end > i {
			o = append(o, b[last:i]...)
			if wide {
				o = append(o, marker16...)
			} else {
				o = append(o, marker8...)
			}
			last = end
			i = end - 1
		}
	}
	if o == nil {
		return b, len(b)
	}
	return append(o, b[last:]...), len(b)
}

// matchAt returns the end of the longest match starting at b[i] (i when
// none) and whether it is UTF-16LE; more reports that some match could
// start at i but b ends too early to tell.
func matchAt(b []byte, i int, needles []needle) (end int, wide, more bool) {
	end = i
	if isDigit(b[i]) {
		if e, st := shapeAt(b, i, false); st == full {
			end = e
		} else if st == partial {
			more = true
		}
		if i+1 >= len(b) || b[i+1] == 0 {
			if e, st := shapeAt(b, i, true); st == full && e > end {
				end, wide = e, true
			} else if st == partial {
				more = true
			}
		}
	}
	rest := b[i:]
	for _, n := range needles {
		switch {
		case bytes.HasPrefix(rest, n.b):
			if i+len(n.b) > end {
				end, wide = i+len(n.b), n.wide
			}
		case len(rest) < len(n.b) && bytes.HasPrefix(n.b, rest):
			more = true
		}
	}
	return end, wide, more
}

type status int

const (
	fail status = iota
	partial
	full
)

// Shape limits: 8 groups of 6 digits; at most maxSeps separators between
// two groups.
const (
	shapeDigits = 48
	groupDigits = 6
	maxSeps     = 4
)

type tokKind int

const (
	tokOther tokKind = iota
	tokDigit
	tokSep
	tokShort // b ends inside a token
)

// shapeAt matches a recovery password shape at b[i] (a digit), in UTF-8 or
// (wide) UTF-16LE.
func shapeAt(b []byte, i int, wide bool) (int, status) {
	digits, seps := 0, 0
	for j := i; ; {
		if j >= len(b) {
			return j, partial
		}
		k, n := token(b, j, wide)
		switch k {
		case tokShort:
			return j, partial
		case tokDigit:
			digits++
			seps = 0
			j += n
			if digits == shapeDigits {
				return j, full
			}
		case tokSep:
			if digits%groupDigits != 0 || seps == maxSeps {
				return j, fail
			}
			seps++
			j += n
		default:
			return j, fail
		}
	}
}

// token classifies the token at b[j] and returns its length.
func token(b []byte, j int, wide bool) (tokKind, int) {
	if wide {
		if j+2 > len(b) {
			return tokShort, 0
		}
		r := rune(b[j]) | rune(b[j+1])<<8
		switch {
		case r >= '0' && r <= '9':
			return tokDigit, 2
		case isSep(r):
			return tokSep, 2
		}
		return tokOther, 0
	}
	c := b[j]
	switch {
	case isDigit(c):
		return tokDigit, 1
	case c == '\\':
		return escapeToken(b, j)
	case c < utf8.RuneSelf:
		if isSep(rune(c)) {
			return tokSep, 1
		}
		return tokOther, 0
	}
	if !utf8.FullRune(b[j:]) {
		return tokShort, 0
	}
	r, n := utf8.DecodeRune(b[j:])
	if isSep(r) {
		return tokSep, n
	}
	return tokOther, 0
}

// escapeToken matches the escapes JSON and %q write for white space:
// \t \n \r \v \f and \uXXXX.
func escapeToken(b []byte, j int) (tokKind, int) {
	if j+1 >= len(b) {
		return tokShort, 0
	}
	switch b[j+1] {
	case 't', 'n', 'r', 'v', 'f':
		return tokSep, 2
	case 'u':
		for k := j + 2; k < j+6; k++ {
			if k >= len(b) {
				return tokShort, 0
			}
			if !isHex(b[k]) {
				return tokOther, 0
			}
		}
		return tokSep, 6
	}
	return tokOther, 0
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isHex(c byte) bool {
	return isDigit(c) || (c|0x20 >= 'a' && c|0x20 <= 'f')
}

// isSep is what the recovery password parsers (bitlocker and internal/keys)
// accept between groups: dashes, Unicode dashes, white space.
func isSep(r rune) bool {
	switch r {
	case '-', '\u2010', '\u2011', '\u2012', '\u2013', '\u2014', '\u2015', '\u2212':
		return true
	}
	return unicode.IsSpace(r)
}

// Writer redacts everything written to it before passing it on. It is
// safe for concurrent use. Call Flush when done: a tail that could begin a
// secret is held back until the next Write or Flush.
type Writer struct {
	r       *Redactor
	w       io.Writer
	mu      sync.Mutex
	pending []byte
}

// NewWriter returns a Writer that redacts with r and writes to w.
func (r *Redactor) NewWriter(w io.Writer) *Writer { return &Writer{r: r, w: w} }

// Write redacts p (with what an earlier Write held back) and writes what is
// decided to the underlying writer. It reports len(p) on success.
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	buf := p
	if len(w.pending) > 0 {
		buf = append(w.pending, p...)
	}
	out, hold := w.r.scan(buf, false)
	w.pending = append([]byte(nil), buf[hold:]...)
	if len(out) > 0 {
		if _, err := w.w.Write(out); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// Flush writes what Write held back, redacted.
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.pending) == 0 {
		return nil
	}
	out, _ := w.r.scan(w.pending, true)
	w.pending = nil
	_, err := w.w.Write(out)
	return err
}

// Unwrap returns the writer w writes to.
func (w *Writer) Unwrap() io.Writer { return w.w }

// std is the process-wide Redactor: the fleet log, the CLI's output
// streams and the stick's transcript all use it.
var std = New()

// Default returns the process-wide Redactor.
func Default() *Redactor { return std }

// Register adds secret to the process-wide Redactor; see Redactor.Register.
func Register(secret string) (release func()) { return std.Register(secret) }

// String redacts s with the process-wide Redactor.
func String(s string) string { return std.String(s) }

// Bytes redacts b with the process-wide Redactor.
func Bytes(b []byte) []byte { return std.Bytes(b) }

// Contains reports whether the process-wide Redactor would change s.
func Contains(s string) bool { return std.Contains(s) }

// NewWriter returns a Writer over w that uses the process-wide Redactor.
// When w is already such a Writer it is returned as is.
func NewWriter(w io.Writer) *Writer {
	if rw, ok := w.(*Writer); ok && rw.r == std {
		return rw
	}
	return std.NewWriter(w)
}

// Unwrap returns the writer under any Writers wrapped around w, e.g. the
// *os.File of a terminal, for code that must ask the terminal for its size
// or mode. What is written to the result is not redacted.
func Unwrap(w io.Writer) io.Writer {
	for {
		rw, ok := w.(*Writer)
		if !ok {
			return w
		}
		w = rw.w
	}
}
