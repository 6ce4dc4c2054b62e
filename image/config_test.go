package image

import (
	"bytes"
	"strings"
	"testing"
)

func TestConfigRoundTrip(t *testing.T) {
	c := Config{Mode: "wizard", After: "reboot", DiskWait: 45, Font: "large"}
	shipping := Config{Mode: "auto", After: "poweroff", DiskWait: 20, Font: "auto",
		LogURL: "https://logs.example.com/unbrick", Syslog: "tls://siem.example.com:6514", LogCA: "log-ca.pem"}
	network := Config{Mode: "auto", After: "poweroff", DiskWait: 5, Font: "auto", LogURL: "https://10.0.2.2:8443/log",
		KeysURL: "keys.csv", RulesURL: "https://deploy.example.com/rules.txt", CA: "ca.pem"}
	for _, c := range []Config{c, shipping, network} {
		got, err := ParseConfig(bytes.NewReader(c.Render(true)))
		if err != nil || got != c {
			t.Fatalf("round trip: %+v, %v", got, err)
		}
	}
	for _, sealed := range []bool{true, false} {
		text := c.Render(sealed)
		if !bytes.Contains(text, []byte("\r\n")) {
			t.Error("rendered config has no CRLF line ends")
		}
		got, err := ParseConfig(bytes.NewReader(text))
		if err != nil || got != c {
			t.Fatalf("round trip: %+v, %v", got, err)
		}
	}
	if !strings.Contains(string(c.Render(false)), "NOT sealed") {
		t.Error("plaintext config does not say the keys are not sealed")
	}
}

func TestParseConfig(t *testing.T) {
	got, err := ParseConfig(strings.NewReader("\xef\xbb\xbf# comment\r\nMODE = Auto  # trailing\r\n\r\nafter=shell\r\n"))
	if err != nil || got.Mode != "auto" || got.After != "shell" || got.DiskWait != 20 {
		t.Fatalf("%+v, %v", got, err)
	}
	for text, want := range map[string]string{
		"mode = turbo\n":                               "line 1: mode",
		"\nafter = halt\n":                             "line 2: after",
		"disk_wait = soon\n":                           "not a number",
		"disk_wait = 0\n":                              "1 to 600",
		"log_url = ftp://x\n":                          "log_url",
		"syslog = udp://x\n":                           "syslog",
		"log_ca = ca.pem\n":                            "set log_url or syslog",
		"log_url = https://h/\nlog_ca = /etc/ca.pem\n": "relative to its root",
		"colour = blue\n":                              "unknown setting \"colour\"",
		"just some words\n":                            "not \"key = value\"",
		"font = huge\n":                                "font",
		"keys_url = http://h/keys.csv\n":               "must be sealed",
		"keys_url = ftp://h/keys.csv\n":                "keys_url",
		"keys_url = h k.csv\n":                         "a path next to unbrick.conf",
		"rules_url = http://h/rules.txt\n":             "only come over https",
		"ca = /etc/ssl/ca.pem\n":                       "next to unbrick.conf",
		"ca = https://h/ca.pem\n":                      "next to unbrick.conf",
	} {
		if _, err := ParseConfig(strings.NewReader(text)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err = %v, want %q", text, err, want)
		}
	}
}

func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(DefaultConfig().Render(true)))
	f.Add([]byte("mode=auto\nafter=\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig(bytes.NewReader(data))
		if err == nil {
			if verr := c.Validate(); verr != nil {
				t.Fatalf("accepted an invalid config: %v", verr)
			}
		}
	})
}
