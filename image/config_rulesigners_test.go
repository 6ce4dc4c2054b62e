package image

import (
	"strings"
	"testing"
)

func TestConfigRulesSigners(t *testing.T) {
	c, err := ParseConfig(strings.NewReader("mode = auto\r\nrules_signers = rules/allowed_signers\r\n"))
	if err != nil || c.RulesSigners != "rules/allowed_signers" {
		t.Fatalf("%+v %v", c, err)
	}
	for _, bad := range []string{"/etc/allowed_signers", "../x", `rules\x`, ""} {
		if _, err := ParseConfig(strings.NewReader("rules_signers = " + bad + "\n")); err == nil || !strings.Contains(err.Error(), "rules_signers") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}
