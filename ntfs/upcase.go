package ntfs

import (
	"fmt"
	"io"

	"github.com/unbrick/unbrick/ntfs/internal/utf16le"
)

// $UpCase (MFT record 10) is a 65536-entry table of little-endian UTF-16
// units: the upper-case form of each unit, used to collate file names.

func (v *Volume) loadUpcase() error {
	f, err := v.OpenRef(MakeRef(RecordUpCase, 0))
	if err != nil {
		return fmt.Errorf("ntfs: $UpCase: %w", err)
	}
	ra, size, err := f.AttrReader(AttrData, "")
	if err != nil {
		return fmt.Errorf("ntfs: $UpCase: %w", err)
	}
	if size != 2*65536 {
		return Corrupt("$UpCase", -1, "$DATA", "$UpCase is %d bytes, want 131072", size)
	}
	buf := make([]byte, size)
	if _, err := ra.ReadAt(buf, 0); err != nil && err != io.EOF {
		return fmt.Errorf("ntfs: read $UpCase: %w", err)
	}
	v.upcase = utf16le.Units(buf)
	return nil
}
