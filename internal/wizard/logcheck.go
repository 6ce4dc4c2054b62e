package wizard

import (
	"fmt"
	"os"
)

// probeBytes is how much a writability probe writes: enough to catch a full
// LOGS partition before a fix needs room for its record and undo journal.
const probeBytes = 256 << 10

// probeWritable checks that dir can be created and holds probeBytes more:
// a read-only stick (or write-protect switch) and a full LOGS partition are
// found before anything is written to a disk.
func probeWritable(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".unbrick-probe-*")
	if err != nil {
		return err
	}
	name := f.Name()
	defer os.Remove(name)
	buf := make([]byte, probeBytes)
	if _, err := f.Write(buf); err != nil {
		f.Close()
		return fmt.Errorf("write %d KiB: %w", probeBytes>>10, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("flush: %w", err)
	}
	return f.Close()
}
