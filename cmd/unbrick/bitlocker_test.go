package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/unbrick/unbrick/internal/disk"
	"github.com/unbrick/unbrick/internal/testcorpus"
)

const (
	testRecoveryPassword = "284867-596541-514998-422114-660297-261613-215424-199408"
	testPassword         = "password12!@"
)

// runCLIWith runs the command line with an environment and standard input.
func runCLIWith(t *testing.T, envv map[string]string, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	e := &env{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb, Getenv: func(k string) string { return envv[k] }}
	code := run(e, args)
	return code, out.String(), errb.String()
}

func blNoSecrets(t *testing.T, outputs ...string) {
	t.Helper()
	for _, o := range outputs {
		for _, s := range []string{testRecoveryPassword, testPassword, "284867"} {
			if strings.Contains(o, s) {
				t.Errorf("output contains a secret: %q", o)
			}
		}
	}
}

func TestBitLockerInfo(t *testing.T) {
	src := testcorpus.Decompress(t, "src/recovery_password.bin.gz")
	code, out, errs := runCLI(t, "bitlocker", "info", src)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{"8E6909F1-6BA3-49EA-BF8D-EC83FAB656CD", "AES-XTS-128 (0x8004)", "encrypted",
		"recovery password    {3C116B76-C67B-484E-B439-CE2ED68B561E}", "password             {6DD54BCD-633D-4836-9EBC-44FA02F1776D}",
		"short", "DESKTOP-QNI1MMF TestVolume 10/8/2021"} {
		if !strings.Contains(out, want) {
			t.Errorf("info output lacks %q:\n%s", want, out)
		}
	}
	if strings.Count(errs, "warning") != 1 {
		t.Errorf("want one short-image warning, stderr: %q", errs)
	}
	code, out, _ = runCLI(t, "bitlocker", "info", "--json", src)
	var j struct {
		Partition int
		BitLocker struct {
			VolumeGUID string `json:"volume_guid"`
			Method     string `json:"encryption_method"`
			State      string `json:"state"`
			Size       int64  `json:"size"`
			Protectors []struct{ Type, ID string }
		}
	}
	if code != 0 || json.Unmarshal([]byte(out), &j) != nil {
		t.Fatalf("--json: exit %d, %q", code, out)
	}
	if j.BitLocker.VolumeGUID != "8E6909F1-6BA3-49EA-BF8D-EC83FAB656CD" || j.BitLocker.Method != "AES-XTS-128" ||
		j.BitLocker.State != "encrypted" || j.BitLocker.Size != 65994752 || len(j.BitLocker.Protectors) != 2 ||
		j.BitLocker.Protectors[0].ID != "3C116B76-C67B-484E-B439-CE2ED68B561E" {
		t.Errorf("JSON: %+v", j)
	}

	// A plain NTFS disk has no BitLocker volume: failure, not a crash.
	plain := testcorpus.Disk(t, "win10-plain-ntfs")
	if code, _, errs := runCLI(t, "bitlocker", "info", plain); code != 1 || !strings.Contains(errs, "no BitLocker") {
		t.Errorf("plain NTFS disk: exit %d, %q", code, errs)
	}
	if code, _, _ := runCLI(t, "bitlocker", "info"); code != 2 {
		t.Errorf("no target: exit %d", code)
	}
	if code, _, _ := runCLI(t, "bitlocker", "frob"); code != 2 {
		t.Errorf("unknown subcommand: exit %d", code)
	}
}

// TestBitLockerDecryptKeySources unlocks a source volume with each way of
// supplying a secret, and checks the exit codes and messages for wrong and
// missing keys.
func TestBitLockerDecryptKeySources(t *testing.T) {
	src := testcorpus.Decompress(t, "src/recovery_password.bin.gz")
	dir := t.TempDir()
	out := filepath.Join(dir, "out.img")
	check := func(name string, code int, stdout, stderr string) {
		t.Helper()
		blNoSecrets(t, stdout, stderr)
		if code != 0 {
			t.Errorf("%s: exit %d: %s", name, code, stderr)
			return
		}
		b := make([]byte, 0x2008)
		f, err := os.Open(out)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		f.ReadAt(b, 0)
		if string(b[3:11]) != "NTFS    " || string(b[0x2000:0x2005]) != "FILE0" {
			t.Errorf("%s: output does not start with an NTFS boot sector / FILE0", name)
		}
		if st, _ := f.Stat(); st.Size() != 65994752 {
			t.Errorf("%s: output is %d bytes", name, st.Size())
		}
	}
	code, so, se := runCLI(t, "bitlocker", "decrypt", "--out", out, "--recovery-password", testRecoveryPassword, src)
	check("--recovery-password", code, so, se)
	code, so, se = runCLIWith(t, map[string]string{"UNBRICK_RECOVERY_PASSWORD": testRecoveryPassword}, "", "bitlocker", "decrypt", src, "--out", out)
	check("UNBRICK_RECOVERY_PASSWORD", code, so, se)
	code, so, se = runCLIWith(t, nil, testRecoveryPassword+"\n", "bitlocker", "decrypt", "--recovery-password-file", "-", "--out", out, src)
	check("--recovery-password-file -", code, so, se)
	code, so, se = runCLIWith(t, map[string]string{"UNBRICK_PASSWORD": testPassword}, "", "bitlocker", "decrypt", "--out", out, src)
	check("UNBRICK_PASSWORD", code, so, se)
	csv := filepath.Join(dir, "keys.csv")
	os.WriteFile(csv, []byte("KeyID,RecoveryKey\n"+
		"11111111-2222-3333-4444-555555555555,111111-111111-111111-111111-111111-111111-111111-111111\n"+
		"3C116B76-C67B-484E-B439-CE2ED68B561E,"+testRecoveryPassword+"\n"), 0o600)
	code, so, se = runCLI(t, "bitlocker", "decrypt", "--keys", csv, "--out", out, src)
	check("--keys", code, so, se)
	if !strings.Contains(se, "{3C116B76-C67B-484E-B439-CE2ED68B561E}") {
		t.Errorf("--keys: stderr does not name the protector that unlocked: %q", se)
	}

	// Wrong and missing keys: exit 3, the protector named, nothing written.
	os.Remove(out)
	code, so, se = runCLI(t, "bitlocker", "decrypt", "--out", out, "--recovery-password", "000000-000000-000000-000000-000000-000000-000000-000011", src)
	if code != 3 || !strings.Contains(se, "wrong recovery password for protector {3C116B76-C67B-484E-B439-CE2ED68B561E}") || strings.Contains(se+so, "000011") {
		t.Errorf("wrong recovery password: exit %d, %q", code, se)
	}
	code, _, se = runCLI(t, "bitlocker", "decrypt", "--out", out, src)
	if code != 3 || !strings.Contains(se, "recovery key ID {3C116B76-C67B-484E-B439-CE2ED68B561E}") {
		t.Errorf("no key: exit %d, %q", code, se)
	}
	code, _, se = runCLI(t, "bitlocker", "decrypt", "--out", out, "--recovery-password", "123456", src)
	if code != 3 || !strings.Contains(se, "8") {
		t.Errorf("malformed recovery password: exit %d, %q", code, se)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a failed decrypt created the output file")
	}
	if code, _, _ := runCLI(t, "bitlocker", "decrypt", "--out", out, "--bek", filepath.Join(dir, "missing.bek"), src); code != 2 {
		t.Errorf("missing .BEK file: exit %d, want 2", code)
	}
	if code, _, _ := runCLI(t, "bitlocker", "decrypt", src); code != 2 {
		t.Errorf("no --out: exit %d, want 2", code)
	}
	if code, _, _ := runCLI(t, "bitlocker", "decrypt", "--out", src, "--recovery-password", testRecoveryPassword, src); code != 2 {
		t.Errorf("--out is the target: exit %d, want 2", code)
	}
}

// TestBitLockerDecryptDisks decrypts the OS partition of every BitLocker
// disk of the corpus with the secret its manifest names, checks it against
// the manifest's NTFS facts (boot sector, total sectors, serial, $MFT at
// mft_lcn) and compares it byte for byte with
// dislocker-file on the same partition.
func TestBitLockerDecryptDisks(t *testing.T) {
	man := testcorpus.LoadManifest(t)
	dis, disErr := exec.LookPath("dislocker-file")
	if disErr != nil && os.Getenv("CI") != "" {
		t.Fatal("dislocker-file not installed")
	}
	n := 0
	for _, name := range man.VariantNames() {
		v := man.Variant(t, name)
		osv, _ := v["os_volume"].(map[string]any)
		if osv == nil || osv["encryption"] == "none" || osv["bitlocker"] == nil {
			continue
		}
		n++
		t.Run(name, func(t *testing.T) {
			img := testcorpus.Disk(t, name)
			u := osv["unlock"].(map[string]any)
			var flags, disFlags []string
			switch u["method"] {
			case "recovery_password":
				flags = []string{"--recovery-password", u["secret"].(string)}
				disFlags = []string{"-p" + u["secret"].(string)}
			case "password":
				flags = []string{"--password", u["secret"].(string)}
				disFlags = []string{"-u" + u["secret"].(string)}
			case "bek":
				p := testcorpus.Path(t, u["bek_file"].(string))
				flags = []string{"--bek", p}
				disFlags = []string{"-f", p}
			case "clear_key":
				disFlags = []string{"-c"}
			default:
				t.Fatalf("unlock method %v", u["method"])
			}
			part := int(v["os_partition_index"].(float64))
			out := filepath.Join(t.TempDir(), "os.img")
			args := append([]string{"bitlocker", "decrypt", "--out", out, img}, flags...)
			code, so, se := runCLI(t, args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, se)
			}
			blNoSecrets(t, so, se)
			got, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			ntfs := osv["ntfs"].(map[string]any)
			if int64(len(got)) != int64(osv["size_bytes"].(float64)) {
				t.Errorf("decrypted %d bytes, manifest volume %v", len(got), osv["size_bytes"])
			}
			mft := int64(ntfs["mft_lcn"].(float64)) * int64(ntfs["cluster_size"].(float64))
			if string(got[3:11]) != "NTFS    " || string(got[mft:mft+5]) != "FILE0" {
				t.Fatalf("no NTFS boot sector / no FILE0 at the manifest's MFT offset %d", mft)
			}
			if ts := binary.LittleEndian.Uint64(got[0x28:]); ts != uint64(ntfs["total_sectors"].(float64)) {
				t.Errorf("NTFS total sectors %d, manifest %v", ts, ntfs["total_sectors"])
			}
			if serial := fmt.Sprintf("%016X", binary.LittleEndian.Uint64(got[0x48:])); serial != ntfs["serial"] {
				t.Errorf("NTFS serial %s, manifest %v", serial, ntfs["serial"])
			}
			// --partition given explicitly selects the same volume.
			if code, _, se := runCLI(t, "bitlocker", "info", "--partition", fmt.Sprint(part), img); code != 0 {
				t.Errorf("info --partition %d: exit %d %s", part, code, se)
			}
			if disErr != nil {
				t.Skip("dislocker-file not installed: no differential check")
			}
			dout := filepath.Join(t.TempDir(), "dis.img")
			off := fmt.Sprint(int64(osv["offset_bytes"].(float64)))
			cmd := exec.Command(dis, append(append([]string{"-O", off, "-V", img}, disFlags...), "--", dout)...)
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("dislocker-file: %v\n%s", err, b)
			}
			want, err := os.ReadFile(dout)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("output differs from dislocker-file (%d vs %d bytes)", len(got), len(want))
			}
		})
	}
	if n < 6 {
		t.Errorf("only %d BitLocker variants in the manifest", n)
	}
}

// TestOpenVolumeWritable writes through openVolume's plaintext view of a
// BitLocker partition on a whole-disk image, checks the write with
// dislocker-file, and checks that a short image refuses writable opens.
func TestOpenVolumeWritable(t *testing.T) {
	img := testcorpus.Disk(t, "win10-xts128-bek-startupkey")
	bek := testcorpus.Path(t, "src/startup_key.bek")
	var stderr bytes.Buffer
	e := &env{Stdin: strings.NewReader(""), Stdout: &stderr, Stderr: &stderr, Getenv: func(string) string { return "" }}
	kf := &keyFlags{beks: []string{bek}}
	o, code, err := openVolume(e, volumeRequest{Prog: "test", Target: img, Keys: kf, Writable: true, Accept: []disk.Kind{disk.BitLocker}})
	if err != nil {
		t.Fatalf("exit %d: %v", code, err)
	}
	if o.BitLocker == nil || o.Candidate.Partition != 3 || o.UnlockedBy != "B3411A58-3400-420A-8B7E-9B5F706425C0" {
		t.Fatalf("opened %+v", o.Candidate)
	}
	data := bytes.Repeat([]byte("unbrick write test "), 1000)[:16384]
	const at = 40 << 20
	if _, err := o.Volume.WriteAt(data, at); err != nil {
		t.Fatal(err)
	}
	o.Close()
	if dis, err := exec.LookPath("dislocker-file"); err == nil {
		out := filepath.Join(t.TempDir(), "dis.img")
		if b, err := exec.Command(dis, "-O", "52428800", "-V", img, "-f", bek, "--", out).CombinedOutput(); err != nil {
			t.Fatalf("dislocker-file: %v %s", err, b)
		}
		f, err := os.Open(out)
		if err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len(data))
		f.ReadAt(got, at)
		f.Close()
		if !bytes.Equal(got, data) {
			t.Error("dislocker does not read back what openVolume's view wrote")
		}
	} else if os.Getenv("CI") != "" {
		t.Fatal("dislocker-file not installed")
	}

	// A short image: read-only opens warn once, writable opens are refused.
	src := testcorpus.Decompress(t, "src/recovery_password.bin.gz")
	kf = &keyFlags{recoveryPasswords: []string{testRecoveryPassword}}
	if _, code, err := openVolume(e, volumeRequest{Prog: "test", Target: src, Keys: kf, Writable: true}); code != 4 || err == nil {
		t.Errorf("writable open of a short image: exit %d, %v", code, err)
	}
}

// TestBitLockerToGoAndGarbage: a BitLocker To Go (FAT) volume gets the
// documented "not supported yet" answer, a file that is no volume a clear
// failure, neither a panic.
func TestBitLockerToGoAndGarbage(t *testing.T) {
	dir := t.TempDir()
	togo := make([]byte, 1<<20)
	copy(togo, []byte{0xeb, 0x58, 0x90})
	copy(togo[3:], "MSWIN4.1")
	binary.LittleEndian.PutUint16(togo[11:], 512)
	togo[13] = 8
	copy(togo[424:], []byte{0x3b, 0xd6, 0x67, 0x49, 0x29, 0x2e, 0xd8, 0x4a, 0x83, 0x99, 0xf6, 0xa3, 0x39, 0xe3, 0xd0, 0x01})
	togo[510], togo[511] = 0x55, 0xaa
	p := filepath.Join(dir, "togo.img")
	os.WriteFile(p, togo, 0o600)
	code, _, se := runCLI(t, "bitlocker", "info", p)
	if code != 1 || !strings.Contains(se, "BitLocker To Go") || !strings.Contains(se, "not supported yet") {
		t.Errorf("To Go: exit %d, %q", code, se)
	}
	g := filepath.Join(dir, "garbage.img")
	os.WriteFile(g, bytes.Repeat([]byte("garbage!"), 1<<14), 0o600)
	if code, _, se := runCLI(t, "bitlocker", "decrypt", "--out", filepath.Join(dir, "o"), g); code != 1 || se == "" {
		t.Errorf("garbage: exit %d, %q", code, se)
	}
}

// TestBitLockerCorruptMetadata: metadata damaged in every copy is a failure
// (exit 1) that names the copies, and the image is not written.
func TestBitLockerCorruptMetadata(t *testing.T) {
	src := testcorpus.Decompress(t, "src/recovery_password.bin.gz")
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, off := range []int{35586048, 43278336, 50966528} {
		b[off+300] ^= 0x10
	}
	os.WriteFile(src, b, 0o600)
	before := sha256.Sum256(b)
	for _, args := range [][]string{
		{"bitlocker", "info", src},
		{"bitlocker", "decrypt", "--out", filepath.Join(t.TempDir(), "o"), "--recovery-password", testRecoveryPassword, src},
	} {
		code, so, se := runCLI(t, args...)
		if code != 1 || !strings.Contains(se, "FVE metadata block 3") || !strings.Contains(se, "CRC-32 mismatch") {
			t.Errorf("%v: exit %d, %q", args[1], code, se)
		}
		blNoSecrets(t, so, se)
	}
	after, _ := os.ReadFile(src)
	if sha256.Sum256(after) != before {
		t.Error("the image was modified")
	}
}
