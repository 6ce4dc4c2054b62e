package main

import (
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// journalFixture decompresses ntfs/testdata/journal/dirty-mixed.img.gz (see
// ntfs/lfs_fixture_test.go: a mkntfs volume whose $LogFile holds a committed
// ntfslabel change, a committed DeleteDirtyClusters record and an
// uncommitted transaction) to a temporary image.
func journalFixture(t *testing.T) string {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "ntfs", "testdata", "journal", "dirty-mixed.img.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	img := filepath.Join(t.TempDir(), "dirty-mixed.img")
	out, err := os.Create(img)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, zr); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	return img
}

func TestNTFSJournalAnalysisJSON(t *testing.T) {
	img := journalFixture(t)
	code, out, errOut := runCLI(t, "ntfs", "journal", "--json", img)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var js struct {
		Clean   *bool `json:"clean"`
		LogFile struct {
			Current struct {
				CurrentLSN uint64 `json:"current_lsn"`
			} `json:"current"`
		} `json:"logfile"`
		Analysis *struct {
			CheckpointLSN    uint64         `json:"checkpoint_lsn"`
			CurrentLSN       uint64         `json:"current_lsn"`
			Committed        int            `json:"committed_transactions"`
			Uncommitted      int            `json:"uncommitted_transactions"`
			RedoTransactions int            `json:"redo_transactions"`
			RedoOps          map[string]int `json:"redo_ops"`
			Supported        []string       `json:"supported_ops"`
			Unsupported      []string       `json:"unsupported_ops"`
			ReplayPossible   bool           `json:"replay_possible"`
			Why              string         `json:"why"`
		} `json:"analysis"`
	}
	if err := json.Unmarshal([]byte(out), &js); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if js.Clean == nil || *js.Clean {
		t.Fatalf("clean field %v, want false", js.Clean)
	}
	a := js.Analysis
	if a == nil {
		t.Fatalf("no analysis in %s", out)
	}
	// The generator's restart area names the checkpoint as current LSN.
	if a.CheckpointLSN == 0 || a.CheckpointLSN != js.LogFile.Current.CurrentLSN || a.CurrentLSN != a.CheckpointLSN {
		t.Errorf("checkpoint LSN %#x, restart page current LSN %#x", a.CheckpointLSN, js.LogFile.Current.CurrentLSN)
	}
	if a.Committed != 2 || a.RedoTransactions != 2 || a.Uncommitted != 1 {
		t.Errorf("transactions: %d committed, %d to redo, %d uncommitted; want 2, 2, 1", a.Committed, a.RedoTransactions, a.Uncommitted)
	}
	if a.RedoOps["UpdateResidentValue"] < 1 || a.RedoOps["DeleteDirtyClusters"] != 1 || a.RedoOps["ForgetTransaction"] != 2 {
		t.Errorf("redo ops %v", a.RedoOps)
	}
	if strings.Join(a.Unsupported, ",") != "DeleteDirtyClusters" || !strings.Contains(strings.Join(a.Supported, ","), "UpdateResidentValue") {
		t.Errorf("supported %v, unsupported %v", a.Supported, a.Unsupported)
	}
	if a.ReplayPossible || !strings.Contains(a.Why, "DeleteDirtyClusters") {
		t.Errorf("replay possible %v (%s)", a.ReplayPossible, a.Why)
	}
	// Independent witness: ntfs-3g's ntfsrecover, simulating (-n), meets
	// the same records and cannot redo the same operation.
	if rec, err := exec.LookPath("ntfsrecover"); err == nil {
		o, _ := exec.Command(rec, "-n", "-v", img).CombinedOutput()
		if !strings.Contains(string(o), "DeleteDirtyClusters (Noop) not redone") || !strings.Contains(string(o), "Redo action") {
			t.Errorf("ntfsrecover -n -v does not agree:\n%s", o)
		}
	}
}

func TestNTFSJournalAnalysisText(t *testing.T) {
	img := journalFixture(t)
	code, out, errOut := runCLI(t, "ntfs", "journal", img)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		"clean false",
		"checkpoint LSN 0x",
		"2 committed in the log, 2 to redo; 1 uncommitted",
		"unbrick can redo: ",
		"unbrick cannot redo: DeleteDirtyClusters",
		"replay possible: false",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
