package image

import (
	"bytes"
	"compress/gzip"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/u-root/u-root/pkg/cpio"
)

// testCAPEM is a self-signed CA certificate in PEM.
func testCAPEM(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// netbootChain is the fake boot chain with a network grub.
func netbootChain(t *testing.T) *BootChain {
	t.Helper()
	dir := fakeBootChain(t)
	p := filepath.Join(dir, "usr/lib/grub/x86_64-efi-signed/grubnetx64.efi.signed")
	if err := os.WriteFile(p, bytes.Repeat([]byte("N"), 400_000), 0o644); err != nil {
		t.Fatal(err)
	}
	bc, err := LoadBootChain(dir)
	if err != nil {
		t.Fatal(err)
	}
	if bc.GrubNet != p {
		t.Fatalf("GrubNet = %q", bc.GrubNet)
	}
	return bc
}

// initrdFile returns one file of a gzip newc initramfs, read with u-root's
// cpio reader (the kernel's format; the archive is written by
// WriteInitramfs).
func initrdFile(t *testing.T, gz []byte, name string) ([]byte, bool) {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	rr := cpio.Newc.Reader(bytes.NewReader(raw))
	for {
		rec, err := rr.ReadRecord()
		if err != nil {
			return nil, false
		}
		if rec.Name == strings.TrimPrefix(name, "/") {
			data, err := io.ReadAll(io.NewSectionReader(rec.ReaderAt, 0, int64(rec.FileSize)))
			if err != nil {
				t.Fatal(err)
			}
			return data, true
		}
	}
}

func TestNetbootTree(t *testing.T) {
	bc := netbootChain(t)
	ca := testCAPEM(t)
	out := filepath.Join(t.TempDir(), "tree")
	url := "https://deploy.example.com:8443/u/unbrick.conf?site=a&x=1"
	signers := []byte("rules@example.com namespaces=\"unbrick-rules\" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n")
	res, err := BuildNetboot(Options{Out: out, BootChain: bc, Init: []byte("init"), Config: DefaultConfig(), ConfigURL: url, CA: ca, RulesSigners: signers, Modules: []string{"a", "vfat"}})
	if err != nil {
		t.Fatal(err)
	}
	read := func(p string) []byte {
		t.Helper()
		d, err := os.ReadFile(filepath.Join(out, p))
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	for name, src := range map[string]string{NetShim: bc.Shim, NetGrub: bc.GrubNet, NetMokMgr: bc.MokMgr, NetKernel: bc.Kernel} {
		want, _ := os.ReadFile(src)
		if !bytes.Equal(read(name), want) {
			t.Errorf("%s is not %s", name, src)
		}
	}
	cfg := string(read(NetGrubCfg))
	for _, want := range []string{"linux /unbrick/vmlinuz console=ttyS0,115200", "'unbrick.config=" + url + "'", "initrd /unbrick/initrd.gz"} {
		if !strings.Contains(cfg, want) {
			t.Errorf("grub.cfg lacks %q:\n%s", want, cfg)
		}
	}
	if ipxe := string(read(NetIPXE)); !strings.HasPrefix(ipxe, "#!ipxe\n") || !strings.Contains(ipxe, "unbrick.config="+url) || !strings.Contains(ipxe, "Secure Boot OFF only") {
		t.Errorf("iPXE script:\n%s", ipxe)
	}
	readme := string(read(NetReadme))
	for _, want := range []string{"HTTPClient", "dhcp-boot=tag:efi64,bootx64.efi", "Kea", "ISC dhcpd", "deploy.example.com"} {
		if !strings.Contains(readme, want) {
			t.Errorf("README lacks %q", want)
		}
	}
	got, ok := initrdFile(t, read(NetInitrd), InitrdCA)
	if !ok || !bytes.Equal(got, ca) {
		t.Errorf("initramfs %s: %v, %q", InitrdCA, ok, got)
	}
	if got, ok := initrdFile(t, read(NetInitrd), InitrdRulesSigners); !ok || !bytes.Equal(got, signers) {
		t.Errorf("initramfs %s: %v, %q", InitrdRulesSigners, ok, got)
	}
	if info, _ := initrdFile(t, read(NetInitrd), InitrdBuildInfo); !strings.Contains(string(info), "config_url="+url) {
		t.Errorf("build info: %s", info)
	}
	if res.InitrdSize != int64(len(read(NetInitrd))) || res.Size == 0 {
		t.Errorf("result %+v", res)
	}
	// sha256sum(1) checks SHA256SUMS: an independent witness of the list.
	if p, err := exec.LookPath("sha256sum"); err == nil {
		cmd := exec.Command(p, "-c", "--strict", NetSums)
		cmd.Dir = out
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("sha256sum -c: %v\n%s", err, b)
		}
	}
	if _, err := os.Stat(out + ".partial"); err == nil {
		t.Error("partial tree left behind")
	}
	// UEFI HTTP boot gets the same chain as an ISO, with the same kernel
	// command line (xorriso reads it), listed in SHA256SUMS.
	if !regexp.MustCompile(`(?m)^[0-9a-f]{64}  ` + NetISO + `$`).Match(read(NetSums)) {
		t.Errorf("SHA256SUMS does not list %s:\n%s", NetISO, read(NetSums))
	}
	iso := filepath.Join(out, NetISO)
	if e := xorrisoElTorito(t, iso); len(e) != 1 || e[0].platform != "UEFI" {
		t.Errorf("%s El Torito: %+v", NetISO, e)
	}
	if got := xorrisoExtract(t, iso, espGrubCfg); !bytes.Contains(got, []byte("'unbrick.config="+url+"'")) {
		t.Errorf("%s grub.cfg lacks the config URL:\n%s", NetISO, got)
	}
	if got, ok := initrdFile(t, xorrisoExtract(t, iso, espInitrd), InitrdCA); !ok || !bytes.Equal(got, ca) {
		t.Errorf("%s initramfs %s: %v", NetISO, InitrdCA, ok)
	}
	if !strings.Contains(readme, "dhcp-boot=tag:efihttp,http://192.0.2.10/unbrick-netboot/"+NetISO) {
		t.Errorf("README: HTTP boot does not point at %s", NetISO)
	}
}

func TestNetbootErrors(t *testing.T) {
	bc := netbootChain(t)
	ca := testCAPEM(t)
	base := Options{BootChain: bc, Init: []byte("init"), Config: DefaultConfig(), Modules: []string{"a"}}
	noNet := *bc
	noNet.GrubNet = ""
	full := t.TempDir()
	os.WriteFile(filepath.Join(full, "x"), []byte("x"), 0o644)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	kder, _ := x509.MarshalECPrivateKey(key)
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
	for _, c := range []struct {
		name string
		edit func(o *Options)
		want string
	}{
		{"no network grub", func(o *Options) { o.BootChain = &noNet }, "grubnetx64.efi.signed is missing"},
		{"https without CA", func(o *Options) { o.ConfigURL = "https://h/u.conf" }, "trusts no CA"},
		{"quote in URL", func(o *Options) { o.ConfigURL = "http://h/u'.conf" }, "cannot carry"},
		{"space in URL", func(o *Options) { o.ConfigURL = "http://h/u .conf" }, "cannot carry"},
		{"password in URL", func(o *Options) { o.ConfigURL = "https://u:secret@h/u.conf"; o.CA = ca }, "carries a password"},
		{"ftp URL", func(o *Options) { o.ConfigURL = "ftp://h/u.conf" }, "want http://"},
		{"private key as CA", func(o *Options) { o.CA = keyPEM }, "never a private key"},
		{"not PEM", func(o *Options) { o.CA = []byte("hello") }, "no PEM certificate"},
		{"keys", func(o *Options) { o.Keys = []File{{Name: "k.csv", Data: []byte("x")}} }, "carries no keys"},
		{"not empty", func(o *Options) { o.Out = full }, "is not empty"},
	} {
		o := base
		o.Out = filepath.Join(t.TempDir(), "tree")
		c.edit(&o)
		_, err := BuildNetboot(o)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %q", c.name, err, c.want)
		}
		if strings.Contains(c.name, "password") && err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("%s: the password is in the message: %v", c.name, err)
		}
		if c.name != "not empty" {
			if _, serr := os.Stat(o.Out); serr == nil {
				t.Errorf("%s: tree written despite the error", c.name)
			}
		}
	}
	o := base
	o.Out = filepath.Join(t.TempDir(), "tree")
	o.BootChain = &noNet
	if _, err := BuildNetboot(o); !errors.Is(err, ErrNetbootNoGrub) {
		t.Errorf("ErrNetbootNoGrub not wrapped: %v", err)
	}
}

// TestUSBImageCarriesConfigURL: --config-url and --ca also go into the
// stick's grub.cfg and initramfs.
func TestUSBImageCarriesConfigURL(t *testing.T) {
	bc := netbootChain(t)
	ca := testCAPEM(t)
	b := &builder{o: Options{BootChain: bc, Init: []byte("init"), Config: DefaultConfig(), Modules: []string{"a"}, ConfigURL: "https://h:1/u.conf", CA: ca}}
	bf, err := b.bootFiles()
	if err != nil {
		t.Fatal(err)
	}
	var cfg, initrd []byte
	for _, f := range bf.files {
		switch f.path {
		case espGrubCfg:
			cfg = f.data
		case espInitrd:
			initrd = f.data
		}
	}
	if !bytes.Contains(cfg, []byte("linux /boot/vmlinuz ")) || !bytes.Contains(cfg, []byte("'unbrick.config=https://h:1/u.conf'")) {
		t.Errorf("grub.cfg:\n%s", cfg)
	}
	if got, ok := initrdFile(t, initrd, InitrdCA); !ok || !bytes.Equal(got, ca) {
		t.Error("CA not in the stick's initramfs")
	}
	b.o.ConfigURL, b.o.CA = "", nil
	bf, _ = b.bootFiles()
	for _, f := range bf.files {
		if f.path == espGrubCfg && bytes.Contains(f.data, []byte("unbrick.config")) {
			t.Error("unbrick.config without --config-url")
		}
		if f.path == espInitrd {
			if _, ok := initrdFile(t, f.data, InitrdCA); ok {
				t.Error("a CA without --ca")
			}
		}
	}
}

func FuzzParseCA(f *testing.F) {
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"))
	f.Add([]byte("hello"))
	f.Fuzz(func(t *testing.T, data []byte) {
		pool, err := ParseCA("fuzz", data)
		if (pool == nil) == (err == nil) {
			t.Fatalf("pool %v with err %v", pool, err)
		}
	})
}

func FuzzCheckFetchURL(f *testing.F) {
	f.Add("https://h:1/u.conf?a=b&c=d")
	f.Add("http://u:p@h/x")
	f.Fuzz(func(t *testing.T, s string) {
		u, err := CheckFetchURL(s)
		if err == nil && (u == nil || strings.ContainsAny(s, " '\"\\$;`") || (u.Scheme != "http" && u.Scheme != "https")) {
			t.Fatalf("accepted %q", s)
		}
		if err != nil && strings.Contains(s, "secret-pw") && strings.Contains(err.Error(), "secret-pw") && strings.Contains(s, "@") {
			t.Fatalf("password in error: %v", err)
		}
	})
}
