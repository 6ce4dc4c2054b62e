package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/unbrick/unbrick/internal/testcorpus"
)

// A pack that only disables a driver service: the wizard shows the
// service in the preview and asks before writing (it used to write without
// asking, since no file was to be deleted); declined, nothing is written.
func TestWizardAccessibleServiceOnlyDeclined(t *testing.T) {
	f := newPackFixture(t, "ed25519")
	pack := writeSvcPack(t, f, false)
	img := testcorpus.Disk(t, svcVariant)
	orig := sha256File(t, img)
	dir := t.TempDir()
	// welcome, volumes, preview, confirm (n), nothing changed.
	s, code := runAccessible(t, dir, "\n\n\nn\n\n", "--rules", pack, "--rules-signers", f.signers, "--log", "logs", img)
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, s)
	}
	for _, want := range []string{
		"Preview: 0 file(s) to delete, 1 driver service(s) to disable",
		"Driver services to DISABLE (1)",
		"CSAgent (rule csagent-off)",
		"ControlSet001 (Current, Default, LastKnownGood) Start 1 -> 4",
		"Disable 1 driver service(s) now?",
		"Nothing was changed",
	} {
		if !strings.Contains(s, want) {
			t.Fatalf("transcript lacks %q:\n%s", want, s)
		}
	}
	if sha256File(t, img) != orig {
		t.Fatal("the image changed although the change was declined")
	}
}

// A pack that deletes the channel file and disables CSAgent: one question
// names both; after yes, the result screen names the service, ntfs-3g and
// hivex read Start = 4, and the record says remediated.
func TestWizardAccessibleServiceAndFile(t *testing.T) {
	requireTools(t, "ntfscat", "hivexget")
	f := newPackFixture(t, "ed25519")
	pack := svcPack(t, f)
	img := testcorpus.Disk(t, svcVariant)
	dir := t.TempDir()
	s, code := runAccessible(t, dir, "\n\n\ny\n\n", "--rules", pack, "--rules-signers", f.signers, "--log", "logs", img)
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, s)
	}
	for _, want := range []string{
		"Will be DELETED (1)",
		"Driver services to DISABLE (1)",
		"Delete 1 file(s) and disable 1 driver service(s) now?",
		"REMEDIATED",
		"Disabled driver service: CSAgent (ControlSet001 (Current, Default, LastKnownGood) Start 1 -> 4)",
		"The faulty file was deleted and the driver service(s) disabled",
	} {
		if !strings.Contains(s, want) {
			t.Fatalf("transcript lacks %q:\n%s", want, s)
		}
	}
	requireRecord(t, filepath.Join(dir, "logs"), transcriptCode(t, s), "remediated")
	off, size := osVolumeOf(t, svcVariant)
	if got := hivexget(t, hiveWithNtfscat(t, img, off, size), `ControlSet001\Services\CSAgent`, "Start"); got != "4" {
		t.Fatalf("after the wizard: CSAgent Start = %s, want 4", got)
	}
}
