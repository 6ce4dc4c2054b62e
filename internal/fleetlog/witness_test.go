package fleetlog

import (
	"encoding/hex"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/unbrick/unbrick/internal/keys"
)

func keysOpts() keys.LoadOptions { return keys.LoadOptions{} }

// crockfordOfSha256sum computes the documented confirmation code with
// coreutils sha256sum (not crypto/sha256) and an independent base-32
// rendering; "" when sha256sum is absent.
func crockfordOfSha256sum(t *testing.T, preimage string) string {
	t.Helper()
	path, err := exec.LookPath("sha256sum")
	if err != nil {
		t.Log("sha256sum not found; skipping the independent check")
		return ""
	}
	cmd := exec.Command(path)
	cmd.Stdin = strings.NewReader(preimage)
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	sum, err := hex.DecodeString(strings.Fields(string(out))[0])
	if err != nil {
		t.Fatal(err)
	}
	// 40 bits as a binary string, read 5 bits at a time.
	var bits strings.Builder
	for _, b := range sum[:5] {
		s := strconv.FormatUint(uint64(b), 2)
		bits.WriteString(strings.Repeat("0", 8-len(s)) + s)
	}
	const alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
	var code strings.Builder
	for i := 0; i < 40; i += 5 {
		v, _ := strconv.ParseUint(bits.String()[i:i+5], 2, 8)
		code.WriteByte(alphabet[v])
	}
	return code.String()
}
