package remedy

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/unbrick/unbrick/bitlocker"
	"github.com/unbrick/unbrick/internal/remedy/remedytest"
	"github.com/unbrick/unbrick/internal/testcorpus"
	"github.com/unbrick/unbrick/internal/undo"
	"github.com/unbrick/unbrick/ntfs"
)

// TestScanCorpus: scan reports, for every corpus disk, what the manifest
// says: OS partition, encryption, protectors, computer name, journal, and
// each 291 file with the right verdict. Scan never writes.
func TestScanCorpus(t *testing.T) {
	for _, v := range corpusVariants(t) {
		t.Run(v.name, func(t *testing.T) {
			img := testcorpus.Disk(t, v.name)
			keys, _ := typedKeys(t, v)
			vols := Scan(context.Background(), []string{img}, Options{Keys: KeyOptions{Typed: keys}})
			if fileSHA256(t, img) != v.sha256() {
				t.Fatal("scan changed the image")
			}
			if c := ExitCode(vols, true); c != 0 {
				t.Errorf("scan exit code %d, want 0", c)
			}
			vol := volumeOf(t, vols, v)
			if vol.Status != StatusScanned || !vol.Windows {
				t.Fatalf("status %s windows %v error %q", vol.Status, vol.Windows, vol.Error)
			}
			if vol.Offset != int64(v.osVolume()["offset_bytes"].(float64)) {
				t.Errorf("offset %d, manifest %v", vol.Offset, v.osVolume()["offset_bytes"])
			}
			if got, want := vol.ComputerName, v.hostName(); got != want {
				t.Errorf("computer name %q, want %q", got, want)
			}
			if v.encrypted() {
				bl := vol.BitLocker
				if bl == nil || !bl.Unlocked {
					t.Fatalf("BitLocker info %+v", bl)
				}
				if want := v.osVolume()["bitlocker"].(map[string]any)["encryption_code"]; bl.MethodCode != want {
					t.Errorf("method %s (%s), manifest %v", bl.MethodCode, bl.Method, want)
				}
				var ids []string
				for _, p := range bl.Protectors {
					ids = append(ids, p.ID)
				}
				got := map[string]string{}
				for _, p := range bl.Protectors {
					got[p.ID] = p.Code
				}
				for _, p := range v.osVolume()["bitlocker"].(map[string]any)["key_protectors"].([]any) {
					pm := p.(map[string]any)
					if id, code := pm["id"].(string), pm["protection_code"].(string); !strings.EqualFold(got[id], code) {
						t.Errorf("protector %s: protection code %q, manifest %q (have %v)", id, got[id], code, ids)
					}
				}
				if len(got) != len(v.protectorIDs()) {
					t.Errorf("protectors %v, manifest %v", ids, v.protectorIDs())
				}
				if bl.ProtectorID == "" || bl.UnlockMethod == "" {
					t.Errorf("unlocked by %q (%q)", bl.ProtectorID, bl.UnlockMethod)
				}
			} else if vol.BitLocker != nil {
				t.Errorf("plain volume reported as BitLocker")
			}
			dirty, _ := v.osVolume()["ntfs"].(map[string]any)["dirty"].(bool)
			if vol.Journal == nil || vol.Journal.Dirty != dirty || vol.Journal.State != "clean" {
				t.Errorf("journal %+v, manifest dirty %v", vol.Journal, dirty)
			}
			want := v.crowdstrike291()
			got := map[string]string{}
			for _, f := range vol.Files {
				got[filepath.Base(f.Path)] = f.Verdict
				if f.SHA256 == "" || f.MTime.IsZero() || f.Reason == "" {
					t.Errorf("file %+v lacks facts", f)
				}
			}
			for name, role := range want {
				wantVerdict := map[string]string{"faulty-291": VerdictFaulty, "good-291": VerdictGood}[role]
				if got[name] != wantVerdict {
					t.Errorf("%s (%s): verdict %q, want %q", name, role, got[name], wantVerdict)
				}
			}
			if len(got) != len(want) {
				t.Errorf("matched files %v, manifest 291 files %v", got, want)
			}
		})
	}
}

// TestFixCorpus: fix → independent verify PASS → second fix already-clean
// → undo byte-identical, for every corpus disk.
func TestFixCorpus(t *testing.T) {
	for _, v := range corpusVariants(t) {
		t.Run(v.name, func(t *testing.T) {
			if testing.Short() && v.encrypted() && v.name != "win10-xts128-recoverypw" {
				t.Skip("-short: one BitLocker variant only")
			}
			img := testcorpus.Disk(t, v.name)
			o, secrets := fixOpts(t, v)
			var logged []*Volume
			o.Hooks.Log = func(vol *Volume) error { logged = append(logged, vol); return nil }
			vols := fix(t, img, o)
			vol := volumeOf(t, vols, v)
			wantStatus := StatusRemediated
			if len(v.gone()) == 0 {
				wantStatus = StatusAlreadyClean
			}
			if vol.Status != wantStatus {
				t.Fatalf("fix: status %s, want %s; error %q", vol.Status, wantStatus, vol.Error)
			}
			if c := ExitCode(vols, false); c != 0 {
				t.Errorf("exit code %d", c)
			}
			deleted := map[string]bool{}
			for _, f := range vol.Files {
				if f.Action == ActionDeleted {
					deleted[filepath.Base(f.Path)] = true
				}
			}
			for _, g := range v.gone() {
				if !deleted[g] {
					t.Errorf("%s not reported deleted", g)
				}
			}
			if len(deleted) != len(v.gone()) {
				t.Errorf("deleted %v, manifest gone %v", deleted, v.gone())
			}
			if len(logged) != 1 || logged[0] != vol {
				t.Errorf("logged %d records", len(logged))
			}
			runVerify(t, img, v.name, "--expect", "fixed")

			again := volumeOf(t, fix(t, img, o), v)
			if again.Status != StatusAlreadyClean {
				t.Errorf("second fix: %s (%s)", again.Status, again.Error)
			}
			// The dirty flag is what it was (the dirty variant keeps it).
			dirty, _ := v.osVolume()["ntfs"].(map[string]any)["dirty"].(bool)
			if again.Journal == nil || again.Journal.Dirty != dirty {
				t.Errorf("after fix: journal %+v, manifest dirty %v", again.Journal, dirty)
			}
			if wantStatus == StatusAlreadyClean {
				if vol.JournalFile != "" || fileSHA256(t, img) != v.sha256() {
					t.Fatal("a volume with nothing to delete was written")
				}
				return
			}
			j, err := undo.ReadFile(vol.JournalFile)
			if err != nil {
				t.Fatal(err)
			}
			if !j.Complete || j.Header.VolumeID != vol.VolumeID {
				t.Errorf("journal complete %v volume %q", j.Complete, j.Header.VolumeID)
			}
			restore(t, img, j)
			if fileSHA256(t, img) != v.sha256() {
				t.Fatal("undo did not give a sha256-identical image")
			}
			leakCheck(t, secrets, vols, vol.JournalFile)
		})
	}
}

func restore(t *testing.T, img string, j *undo.Journal) {
	t.Helper()
	f, err := os.OpenFile(img, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	if _, err := undo.Restore(j, f, st.Size(), undo.RestoreOptions{Sync: f.Sync}); err != nil {
		t.Fatal(err)
	}
}

// leakCheck greps reports and files for secrets.
func leakCheck(t *testing.T, secrets []string, vols []*Volume, files ...string) {
	t.Helper()
	b, _ := json.Marshal(vols)
	blobs := map[string][]byte{"reports": b}
	for _, f := range files {
		if c, err := os.ReadFile(f); err == nil {
			blobs[f] = c
		}
	}
	for _, s := range secrets {
		if s == "" {
			continue
		}
		for name, blob := range blobs {
			if strings.Contains(string(blob), s) {
				t.Errorf("secret found in %s", name)
			}
		}
	}
}

func TestDryRunWritesNothing(t *testing.T) {
	for _, name := range []string{"win10-plain-ntfs", "win10-xts128-both"} {
		t.Run(name, func(t *testing.T) {
			v := oneVariant(t, name)
			img := testcorpus.Disk(t, name)
			o, _ := fixOpts(t, v)
			o.Fix.DryRun = true
			vols := fix(t, img, o)
			vol := volumeOf(t, vols, v)
			if vol.Status != StatusDryRun || vol.PlanWrites == 0 || vol.PlanText == "" {
				t.Fatalf("dry run: %s %q writes %d", vol.Status, vol.Error, vol.PlanWrites)
			}
			if fileSHA256(t, img) != v.sha256() {
				t.Fatal("--dry-run changed the image")
			}
			if ents, _ := os.ReadDir(o.Fix.JournalDir); len(ents) != 0 {
				t.Fatal("--dry-run wrote a journal")
			}
		})
	}
}

// TestWrongKeyLocked: a wrong recovery password leaves the volume locked
// (exit 3), nothing written, a record logged, and no secret anywhere.
func TestWrongKeyLocked(t *testing.T) {
	v := oneVariant(t, "win10-xts128-recoverypw")
	img := testcorpus.Disk(t, v.name)
	wrong := "111111-222222-333333-444444-555555-666666-777777-888888"
	o, _ := fixOpts(t, v)
	o.Keys.Typed = []TypedKey{{Key: bitlocker.RecoveryPassword(wrong), Source: "--recovery-password"}}
	var logged []*Volume
	o.Hooks.Log = func(vol *Volume) error { logged = append(logged, vol); return nil }
	vols := fix(t, img, o)
	vol := volumeOf(t, vols, v)
	if vol.Status != StatusLocked || ExitCode(vols, false) != 3 {
		t.Fatalf("status %s exit %d error %q", vol.Status, ExitCode(vols, false), vol.Error)
	}
	if len(logged) != 1 || logged[0].Status != StatusLocked {
		t.Errorf("logged %d records", len(logged))
	}
	if fileSHA256(t, img) != v.sha256() {
		t.Fatal("a locked volume was written")
	}
	leakCheck(t, []string{wrong}, vols)
}

// TestUncleanJournal: a journal whose restart area says unclean but whose
// log holds no record at its current LSN (MakeUncleanJournal) cannot be
// replayed: the default (replay, falling back to refuse) refuses it and
// writes nothing; --unclean-fallback=reset and --unclean=reset empty it.
func TestUncleanJournal(t *testing.T) {
	v := oneVariant(t, "win10-plain-ntfs")
	img := testcorpus.Disk(t, v.name)
	if err := remedytest.MakeUncleanJournal(img, v.osPartition()); err != nil {
		t.Fatal(err)
	}
	scan := volumeOf(t, Scan(context.Background(), []string{img}, Options{}), v)
	if scan.Journal == nil || scan.Journal.State != "unclean" {
		t.Fatalf("scan journal %+v", scan.Journal)
	}
	before := fileSHA256(t, img)
	o, _ := fixOpts(t, v)
	vols := fix(t, img, o)
	vol := volumeOf(t, vols, v)
	if vol.Status != StatusRefused || ExitCode(vols, false) != 4 {
		t.Fatalf("default policy: %s exit %d (%s)", vol.Status, ExitCode(vols, false), vol.Error)
	}
	if vol.Journal.ReplayImpossible == "" || !strings.Contains(vol.Error, "cannot replay") || !strings.Contains(vol.Error, "--unclean-fallback=reset") {
		t.Errorf("refusal does not say why the replay is impossible and what to do: %q (%q)", vol.Error, vol.Journal.ReplayImpossible)
	}
	if rec := vol.FleetRecord(&o); rec.JournalAction != "refused" {
		t.Errorf("fleet record journal_action %q, want refused", rec.JournalAction)
	}
	if fileSHA256(t, img) != before {
		t.Fatal("a refused volume was written")
	}
	for _, pol := range []struct{ unclean, fallback ntfs.UncleanPolicy }{{"", ntfs.UncleanReset}, {ntfs.UncleanReset, ""}} {
		img := testcorpus.Disk(t, v.name)
		if err := remedytest.MakeUncleanJournal(img, v.osPartition()); err != nil {
			t.Fatal(err)
		}
		o.Fix.Unclean, o.Fix.UncleanFallback = pol.unclean, pol.fallback
		vol = volumeOf(t, fix(t, img, o), v)
		if vol.Status != StatusRemediated || !vol.Journal.Reset || vol.FleetRecord(&o).JournalAction != "reset" {
			t.Fatalf("%+v: %s (%s), journal %+v", pol, vol.Status, vol.Error, vol.Journal)
		}
		if (pol.fallback == ntfs.UncleanReset) != (vol.Journal.ReplayImpossible != "") {
			t.Errorf("%+v: replay_impossible %q", pol, vol.Journal.ReplayImpossible)
		}
		mustVerify(t, img, v.name, "--expect", "fixed", "--allow-dirty", "--allow-journal-change")
		again := volumeOf(t, fix(t, img, o), v)
		if again.Status != StatusAlreadyClean || !again.Journal.Dirty {
			t.Errorf("after reset: %s, dirty %v", again.Status, again.Journal.Dirty)
		}
	}
}

// TestJournalUnwritable: when the journal cannot be created, the volume
// is refused and the image untouched.
func TestJournalUnwritable(t *testing.T) {
	v := oneVariant(t, "win10-plain-ntfs")
	img := testcorpus.Disk(t, v.name)
	o, _ := fixOpts(t, v)
	blocker := filepath.Join(t.TempDir(), "file")
	os.WriteFile(blocker, nil, 0o600)
	o.Fix.JournalDir = filepath.Join(blocker, "journal") // a path under a regular file
	vols := fix(t, img, o)
	vol := volumeOf(t, vols, v)
	if vol.Status != StatusRefused || ExitCode(vols, false) != 4 {
		t.Fatalf("status %s (%s)", vol.Status, vol.Error)
	}
	if fileSHA256(t, img) != v.sha256() {
		t.Fatal("written without a journal")
	}
}
