package keys

import (
	"fmt"
	"strings"
	"testing"
)

// BenchmarkParseCSV100k: a 100,000-row export (a large fleet) in the
// CrowdStrike layout.
func BenchmarkParseCSV100k(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("\"Hostname\",\"KeyID\",\"RecoveryKey\",\"Directory\"\r\n")
	for k := 0; k < 100000; k++ {
		fmt.Fprintf(&sb, "\"PC-%06d\",\"%s\",\"%s\",\"ActiveDirectory\"\r\n", k, fakeID(k % 60000)[:24]+fmt.Sprintf("%012X", k), fakePW(k%65))
	}
	data := []byte(sb.String())
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res, err := Parse("big.csv", data, LoadOptions{})
		if err != nil || len(res.Entries) != 100000 {
			b.Fatalf("%v %d %v", err, len(res.Entries), res.Problems[:1])
		}
		NewSet(res.Entries)
	}
}
