package replay

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/unbrick/unbrick/ntfs"
	"github.com/unbrick/unbrick/ntfs/edit"
	"github.com/unbrick/unbrick/ntfs/internal/ntfstest"
)

// The corpus helpers below that need the edit package are kept here, not
// in ntfstest (which edit's own tests import); edit's tests have the same
// few lines.

func fixedNow() time.Time { return time.Date(2024, 7, 19, 6, 0, 0, 0, time.UTC) }

// openVolFile opens a volume image read-write.
func openVolFile(t testing.TB, path string) (*ntfs.Volume, *os.File) {
	t.Helper()
	f := ntfstest.FileRW(t, path)
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	v, err := ntfs.Open(f, st.Size())
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	return v, f
}

// deleteWithUs plans and applies the deletion of path on a volume image.
func deleteWithUs(t testing.TB, vol, path string, opts edit.DeleteOptions) *edit.Plan {
	t.Helper()
	v, f := openVolFile(t, vol)
	if opts.Now == nil {
		opts.Now = fixedNow
	}
	plan, err := edit.PlanDelete(v, path, opts)
	if err != nil {
		t.Fatalf("plan delete %s: %v", path, err)
	}
	if err := edit.Apply(f, plan, edit.ApplyOptions{NoSync: true}); err != nil {
		t.Fatalf("apply delete %s: %v", path, err)
	}
	return plan
}

func planSays(p *edit.Plan, s string) bool {
	for _, w := range p.Writes {
		if strings.Contains(w.What, s) {
			return true
		}
	}
	return false
}
