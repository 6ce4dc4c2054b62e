package virtdisk

import (
	"errors"
	"io"
	"sync"
	"testing"
)

// TestDetachOnce: whatever the number of callers, the detach runs once
// and every caller sees its result.
func TestDetachOnce(t *testing.T) {
	calls := 0
	boom := errors.New("in use")
	d := &Disk{path: `D:\VMs\a.vhdx`, device: `\\.\PhysicalDrive3`, detachFn: func() error { calls++; return boom }}
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = d.Detach() }()
	}
	wg.Wait()
	if err := d.Close(); !errors.Is(err, boom) {
		t.Errorf("Close after Detach = %v, want the first result", err)
	}
	if calls != 1 {
		t.Errorf("detach ran %d times, want 1", calls)
	}
	for i, err := range errs {
		if !errors.Is(err, boom) {
			t.Errorf("caller %d got %v", i, err)
		}
	}
	var nilDisk *Disk
	if err := nilDisk.Detach(); err != nil {
		t.Errorf("nil Disk: %v", err)
	}
	var _ io.Closer = d
	if d.DevicePath() != `\\.\PhysicalDrive3` || d.Path() != `D:\VMs\a.vhdx` {
		t.Errorf("paths %q %q", d.DevicePath(), d.Path())
	}
}
