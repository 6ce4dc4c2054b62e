package image

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"

	"github.com/unbrick/unbrick/internal/inputfile"
	"github.com/unbrick/unbrick/internal/logship"
)

// ConfigName is the settings file in the root of the LOGS partition.
const ConfigName = "unbrick.conf"

// Config is unbrick.conf: what the stick does when it boots. The file is
// plain "key = value" lines so a technician can edit it on any PC.
type Config struct {
	Mode     string // "auto" or "wizard"
	After    string // "poweroff", "reboot" or "shell"
	DiskWait int    // seconds to wait for the stick and the disks to appear
	Font     string // "auto" (large font on big screens), "large" or "normal"
	// LogURL, Syslog and LogCA: where the fleet log records are also sent
	// after a run (`unbrick ship`: --log-url, --syslog, --log-ca; LogCA is
	// a path on the stick). Empty: only the stick's logs/.
	LogURL, Syslog, LogCA string
	// KeysURL and RulesURL: key export and rules fetched over the network
	// at boot (http or https; relative to the address the settings came
	// from when they were fetched). Keys over plain http must be sealed
	// (a name ending in .age); rules only come over https, because they
	// say what is deleted.
	KeysURL, RulesURL string
	// CA: the CA certificate (PEM) trusted for every https address above
	// and for syslog over TLS, a file next to unbrick.conf (on the stick,
	// or relative to the settings' URL). LogCA, when set, overrides it for
	// the log receivers.
	CA string
	// RulesSigners: the allowed-signers file (ssh-keygen(1) ALLOWED
	// SIGNERS format), a path on the stick relative to its root, that a
	// rules pack's signature (PACK.sig) is checked against (fix
	// --rules-signers). Empty: only the built-in rule can be used, since
	// a pack without a checked signature is refused.
	RulesSigners string
}

// DefaultConfig is what a stick is built with unless flags say otherwise.
func DefaultConfig() Config {
	return Config{Mode: "auto", After: "poweroff", DiskWait: 20, Font: "auto"}
}

var configChoices = map[string][]string{
	"mode":  {"auto", "wizard"},
	"after": {"poweroff", "reboot", "shell"},
	"font":  {"auto", "large", "normal"},
}

// Validate checks every field against its allowed values.
func (c Config) Validate() error {
	for k, v := range map[string]string{"mode": c.Mode, "after": c.After, "font": c.Font} {
		if !oneOf(v, configChoices[k]) {
			return fmt.Errorf("%s = %q: must be one of %s", k, v, strings.Join(configChoices[k], ", "))
		}
	}
	if c.DiskWait < 1 || c.DiskWait > 600 {
		return fmt.Errorf("disk_wait = %d: must be 1 to 600 seconds", c.DiskWait)
	}
	if c.LogURL != "" {
		if _, err := logship.NewHTTPSink(c.LogURL, nil, ""); err != nil {
			return fmt.Errorf("log_url: %w", err)
		}
	}
	if c.Syslog != "" {
		if _, err := logship.NewSyslogSink(c.Syslog, nil, ""); err != nil {
			return fmt.Errorf("syslog: %w", err)
		}
	}
	if c.LogCA != "" && c.LogURL == "" && c.Syslog == "" {
		return fmt.Errorf("log_ca = %s: set log_url or syslog too", c.LogCA)
	}
	if c.LogCA != "" && (strings.HasPrefix(c.LogCA, "/") || strings.Contains(c.LogCA, "..")) {
		return fmt.Errorf("log_ca = %s: give a file on this stick relative to its root, such as log-ca.pem", c.LogCA)
	}
	if c.CA != "" && (strings.HasPrefix(c.CA, "/") || strings.Contains(c.CA, "..") || strings.Contains(c.CA, "://")) {
		return fmt.Errorf("ca = %s: give a file next to unbrick.conf, such as ca.pem", c.CA)
	}
	for _, f := range []struct{ key, val string }{{"keys_url", c.KeysURL}, {"rules_url", c.RulesURL}} {
		if f.val == "" {
			continue
		}
		u, err := checkRef(f.val)
		if err != nil {
			return fmt.Errorf("%s: %w", f.key, err)
		}
		if u.Scheme == "http" && f.key == "keys_url" && !strings.HasSuffix(strings.ToLower(u.Path), SealedSuffix) {
			return fmt.Errorf("keys_url = %s: recovery keys over plain http must be sealed (a %s file from unbrick image build); use https with a pinned CA for a plain key export", logship.RedactURL(f.val), SealedSuffix)
		}
		if u.Scheme == "http" && f.key == "rules_url" {
			return fmt.Errorf("rules_url = %s: rules say what is deleted, so they only come over https (with ca = the server's CA)", logship.RedactURL(f.val))
		}
	}
	return nil
}

// checkRef checks a keys_url or rules_url value: an absolute http(s)
// address (CheckFetchURL), or a path relative to where the settings came
// from (then its scheme is that of the settings' address, checked at
// boot).
func checkRef(v string) (*url.URL, error) {
	if strings.Contains(v, "://") {
		return CheckFetchURL(v)
	}
	u, err := url.Parse(v)
	if err != nil || u.Scheme != "" || u.Host != "" || strings.ContainsAny(v, " \t'\"\\$;") {
		return nil, fmt.Errorf("%q: want https://host/path or a path next to unbrick.conf such as keys.csv", logship.RedactURL(v))
	}
	return u, nil
}

// ReadConfigFile reads and parses the settings file at path (see
// ParseConfig). A device, FIFO or directory is refused without blocking
// (the error wraps inputfile.ErrNotRegular), and so is a file over
// inputfile.MaxConfig (inputfile.ErrTooLarge). Errors name path (and the
// line). On error the defaults are returned with it.
func ReadConfigFile(path string) (Config, error) {
	data, err := inputfile.Read(path, "settings file", inputfile.MaxConfig)
	if err != nil {
		return DefaultConfig(), err
	}
	return parseConfig(path, data)
}

// ParseConfig reads unbrick.conf. Unknown keys and bad values are errors
// that name the line; missing keys keep their defaults. A UTF-8 BOM and
// CRLF line ends (Notepad) are accepted. More than inputfile.MaxConfig
// bytes is an error (wrapping inputfile.ErrTooLarge).
func ParseConfig(r io.Reader) (Config, error) {
	data, err := inputfile.ReadAll(r, ConfigName, "settings file", inputfile.MaxConfig)
	if err != nil {
		return DefaultConfig(), err
	}
	return parseConfig(ConfigName, data)
}

func parseConfig(name string, data []byte) (Config, error) {
	c := DefaultConfig()
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return c, fmt.Errorf("%s line %d: %q is not \"key = value\"", name, n, line)
		}
		k, v = strings.ToLower(strings.TrimSpace(k)), strings.TrimSpace(v)
		switch k {
		case "mode":
			c.Mode = strings.ToLower(v)
		case "after":
			c.After = strings.ToLower(v)
		case "font":
			c.Font = strings.ToLower(v)
		case "log_url":
			c.LogURL = v
		case "syslog":
			c.Syslog = v
		case "log_ca":
			c.LogCA = v
		case "keys_url":
			c.KeysURL = v
		case "rules_url":
			c.RulesURL = v
		case "ca":
			c.CA = v
		case "rules_signers":
			if v == "" || strings.HasPrefix(v, "/") || strings.Contains(v, "..") || strings.Contains(v, `\`) {
				return c, fmt.Errorf("%s line %d: rules_signers = %q: give a file on the stick relative to its root, like rules/allowed_signers", name, n, v)
			}
			c.RulesSigners = v
		case "disk_wait":
			d, err := strconv.Atoi(v)
			if err != nil {
				return c, fmt.Errorf("%s line %d: disk_wait = %q is not a number of seconds", name, n, v)
			}
			c.DiskWait = d
		default:
			return c, fmt.Errorf("%s line %d: unknown setting %q (known: mode, after, disk_wait, font, log_url, syslog, log_ca, keys_url, rules_url, ca, rules_signers)", name, n, k)
		}
		if err := c.Validate(); err != nil {
			return c, fmt.Errorf("%s line %d: %w", name, n, err)
		}
	}
	if err := sc.Err(); err != nil {
		return c, fmt.Errorf("read %s: %w", name, err)
	}
	return c, c.Validate()
}

// Render writes the documented unbrick.conf for c, with CRLF line ends so
// Windows Notepad shows it properly (the parser accepts both).
func (c Config) Render(sealedKeys bool) []byte {
	keys := "sealed with a passphrase (asked once at boot)"
	if !sealedKeys {
		keys = "NOT sealed (built with --plaintext-keys): anyone with this stick can read them"
	}
	text := fmt.Sprintf(`# unbrick.conf: what this unbrick USB stick does when a PC boots from it.
# Edit it on any PC (the stick's UNBRICK drive). One "key = value" per line;
# "#" starts a comment. Unknown keys are an error shown at boot.
#
# mode: auto   = fix every Windows volume on every disk of the PC except this
#                stick, print a summary, write the log, then do "after".
#       wizard = guided, step by step, on the PC's screen.
mode = %s

# after: what to do when an auto run ends: poweroff, reboot, or shell
# (shell only works on sticks built with "--after shell", which adds busybox).
after = %s

# disk_wait: seconds to wait for this stick and the PC's disks to appear.
disk_wait = %d

# font: auto = large console font on big (high-DPI) screens, large, normal.
font = %s

# log_url, syslog, log_ca: also send the fleet log records, after each run,
# to a JSON Lines HTTP receiver (https://host/path) and/or a syslog server
# (tcp://host:514 or tls://host:6514), trusting only the CA certificate in
# log_ca (a PEM file on this drive) when it is set. Records that cannot be
# sent stay in logs/ship and go with the next run, or from any PC with
# "unbrick ship --log E:\logs --log-url ...". The network is brought up
# (DHCP on every wired port) only when one of these is set.
%s
# keys_url, rules_url, ca: fetch a key export and rules over the network
# at boot (keys over plain http only when sealed, *.age; rules only over
# https), trusting only the CA certificate in the file named by ca (PEM,
# on this drive) for https and tls:// addresses.
%s
# Keys in keys/: %s.
# Logs are written to logs/, undo journals to journal/. Nothing else on
# this stick is ever written by unbrick at boot.
`, c.Mode, c.After, c.DiskWait, c.Font, c.renderShipping(), c.renderFetching(), keys)
	return []byte(strings.ReplaceAll(text, "\n", "\r\n"))
}

// renderShipping writes the log shipping settings, or commented examples.
func (c Config) renderShipping() string {
	return renderKeys([][3]string{{"log_url", c.LogURL, "https://logs.example.com/unbrick"}, {"syslog", c.Syslog, "tls://siem.example.com:6514"}, {"log_ca", c.LogCA, "log-ca.pem"}})
}

// renderFetching writes the network fetch settings, or commented examples.
func (c Config) renderFetching() string {
	return renderKeys([][3]string{{"keys_url", c.KeysURL, "https://deploy.example.com/unbrick/keys.csv"}, {"rules_url", c.RulesURL, "https://deploy.example.com/unbrick/rules.txt"}, {"ca", c.CA, "ca.pem"}})
}

func renderKeys(kvs [][3]string) string {
	var b strings.Builder
	for _, kv := range kvs {
		if kv[1] != "" {
			fmt.Fprintf(&b, "%s = %s\n", kv[0], kv[1])
		} else {
			fmt.Fprintf(&b, "# %s = %s\n", kv[0], kv[2])
		}
	}
	return b.String()
}

// NeedsNetwork reports whether the settings name anything on the network
// (receivers, key or rules addresses).
func (c Config) NeedsNetwork() bool {
	return c.LogURL != "" || c.Syslog != "" || c.KeysURL != "" || c.RulesURL != ""
}

func oneOf(v string, set []string) bool {
	for _, s := range set {
		if v == s {
			return true
		}
	}
	return false
}
