package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"

	"github.com/unbrick/unbrick/internal/testcorpus"
)

// TestNTFSLsCatCorpus lists the CrowdStrike folder of the plain corpus
// disks and cats every channel file: names, sizes, times and sha256 must
// match the manifest (made by ntfs-3g).
func TestNTFSLsCatCorpus(t *testing.T) {
	m := testcorpus.LoadManifest(t)
	for _, name := range []string{"win10-plain-ntfs", "win10-mbr-plain"} {
		t.Run(name, func(t *testing.T) {
			v := m.Variant(t, name)
			img := testcorpus.Disk(t, name)
			part := itoaCLI(int(v["os_partition_index"].(float64)))
			cs := v["crowdstrike"].(map[string]any)
			dir := cs["dir"].(string)
			code, out, errOut := runCLI(t, "ntfs", "ls", img, strings.ReplaceAll(dir, "/", `\`), "--json", "--partition", part)
			if code != 0 {
				t.Fatalf("ls: exit %d: %s", code, errOut)
			}
			var ents []ntfsLsEntry
			if err := json.Unmarshal([]byte(out), &ents); err != nil {
				t.Fatalf("ls --json: %v\n%s", err, out)
			}
			byName := map[string]ntfsLsEntry{}
			for _, e := range ents {
				byName[e.Name] = e
			}
			files := cs["files"].([]any)
			if len(ents) != len(files) {
				t.Errorf("ls lists %d entries, manifest %d", len(ents), len(files))
			}
			for _, fa := range files {
				mf := fa.(map[string]any)
				e, ok := byName[mf["name"].(string)]
				if !ok {
					t.Errorf("ls misses %s", mf["name"])
					continue
				}
				if e.Size != int64(mf["size"].(float64)) || e.Modified.UTC().Format("2006-01-02T15:04:05Z") != mf["mtime_utc"] {
					t.Errorf("%s: size %d mtime %v; manifest %v %v", e.Name, e.Size, e.Modified, mf["size"], mf["mtime_utc"])
				}
				if dos, _ := mf["dos_name"].(string); e.ShortName != dos {
					t.Errorf("%s: short name %q, manifest %q", e.Name, e.ShortName, dos)
				}
				code, data, errOut := runCLI(t, "ntfs", "cat", "--partition", part, img, strings.ToUpper(dir)+"/"+mf["name"].(string))
				if code != 0 {
					t.Errorf("cat %s: exit %d: %s", e.Name, code, errOut)
					continue
				}
				sum := sha256.Sum256([]byte(data))
				if hex.EncodeToString(sum[:]) != mf["sha256"] {
					t.Errorf("cat %s: sha256 differs from the manifest", e.Name)
				}
			}
			// Text output names the 291 file with its 8.3 name.
			code, out, _ = runCLI(t, "ntfs", "ls", "--partition", part, img, dir)
			if code != 0 || !strings.Contains(out, "C-00000291-00000000-00000032.sys  [C-0000~4.SYS]") {
				t.Errorf("text ls: exit %d\n%s", code, out)
			}
		})
	}
}

func TestNTFSErrors(t *testing.T) {
	img := testcorpus.Disk(t, "win10-plain-ntfs")
	// Two NTFS partitions (OS and Recovery): the user must choose.
	code, _, errOut := runCLI(t, "ntfs", "ls", img, "/")
	if code != 2 || !strings.Contains(errOut, "partition") {
		t.Errorf("ambiguous target: exit %d, %q", code, errOut)
	}
	code, _, errOut = runCLI(t, "ntfs", "cat", "--partition", "3", img, "Windows/nope.txt")
	if code != 1 || !strings.Contains(errOut, "no such file") {
		t.Errorf("missing file: exit %d, %q", code, errOut)
	}
	code, _, errOut = runCLI(t, "ntfs", "cat", "--partition", "3", img, "Windows")
	if code != 1 || !strings.Contains(errOut, "is a directory") {
		t.Errorf("cat of a directory: exit %d, %q", code, errOut)
	}
	code, _, _ = runCLI(t, "ntfs", "ls", img)
	if code != 2 {
		t.Errorf("missing PATH: exit %d, want 2", code)
	}
	code, _, _ = runCLI(t, "ntfs", "frob")
	if code != 2 {
		t.Errorf("unknown verb: exit %d, want 2", code)
	}
	code, _, errOut = runCLI(t, "ntfs", "ls", "--partition", "1", img, "/")
	if code == 0 {
		t.Errorf("ls of the FAT ESP succeeded: %q", errOut)
	}
}

func itoaCLI(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}

// TestNTFSBitLockerCLI reads the channel files of BitLocker corpus disks
// through the key flags (recovery password, BEK file, password).
func TestNTFSBitLockerCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("key stretching: skipped in -short")
	}
	m := testcorpus.LoadManifest(t)
	for _, tc := range []struct {
		variant string
		flags   func(t *testing.T, secret string) []string
	}{
		{"win10-xts128-both", func(t *testing.T, s string) []string { return []string{"--recovery-password", s} }},
		{"win7-cbc128-diffuser-password", func(t *testing.T, s string) []string { return []string{"--password", s} }},
		{"win10-xts128-bek-startupkey", func(t *testing.T, s string) []string {
			return []string{"--bek", testcorpus.Path(t, "src/startup_key.bek")}
		}},
	} {
		t.Run(tc.variant, func(t *testing.T) {
			v := m.Variant(t, tc.variant)
			img := testcorpus.Disk(t, tc.variant)
			secret, _ := v["os_volume"].(map[string]any)["unlock"].(map[string]any)["secret"].(string)
			cs := v["crowdstrike"].(map[string]any)
			args := append([]string{"ntfs", "ls", "--json", "--partition", "3"}, tc.flags(t, secret)...)
			code, out, errOut := runCLI(t, append(args, img, cs["dir"].(string))...)
			if code != 0 {
				t.Fatalf("ls: exit %d: %s", code, errOut)
			}
			if secret != "" && (strings.Contains(out, secret) || strings.Contains(errOut, secret)) {
				t.Fatalf("the secret appears in the output")
			}
			var ents []ntfsLsEntry
			if err := json.Unmarshal([]byte(out), &ents); err != nil {
				t.Fatal(err)
			}
			files := cs["files"].([]any)
			if len(ents) != len(files) {
				t.Errorf("%d entries, manifest %d", len(ents), len(files))
			}
			for _, fa := range files {
				mf := fa.(map[string]any)
				args := append([]string{"ntfs", "cat", "--partition", "3"}, tc.flags(t, secret)...)
				code, data, errOut := runCLI(t, append(args, img, cs["dir"].(string)+"/"+mf["name"].(string))...)
				sum := sha256.Sum256([]byte(data))
				if code != 0 || hex.EncodeToString(sum[:]) != mf["sha256"] {
					t.Errorf("cat %s: exit %d, sha256 mismatch? %s", mf["name"], code, errOut)
				}
			}
		})
	}
	img := testcorpus.Disk(t, "win10-xts128-recoverypw")
	code, _, errOut := runCLI(t, "ntfs", "ls", "--partition", "3", img, "/")
	if code != 3 {
		t.Errorf("no key: exit %d (%s), want 3", code, errOut)
	}
	code, _, errOut = runCLI(t, "ntfs", "ls", "--partition", "3", "--recovery-password", "111111-111111-111111-111111-111111-111111-111111-111111", img, "/")
	if code != 3 {
		t.Errorf("wrong recovery password: exit %d (%s), want 3", code, errOut)
	}
}
